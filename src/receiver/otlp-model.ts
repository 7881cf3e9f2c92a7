// Decoding of OTLP export requests with protobufjs and the official opentelemetry-proto definitions (vendored in
// proto/, loaded through the descriptor generated from them), and a plain-data view of the decoded spans, metrics
// and logs that the receiver stores and tests read.
import protobuf from 'protobufjs';
import { OTLP_DESCRIPTOR } from './otlp-descriptor.ts';

type ProtoType = protobuf.Type;
type ProtoMessage = Record<string, unknown>;
const root = protobuf.Root.fromJSON(OTLP_DESCRIPTOR);
const collectorType = (name: string): ProtoType => root.lookupType(`opentelemetry.proto.collector.${name}`);

export type Signal = 'traces' | 'metrics' | 'logs';
export const SIGNALS: Record<Signal, { request: ProtoType; response: ProtoType; service: string }> = {
  traces: {
    request: collectorType('trace.v1.ExportTraceServiceRequest'),
    response: collectorType('trace.v1.ExportTraceServiceResponse'),
    service: 'opentelemetry.proto.collector.trace.v1.TraceService',
  },
  metrics: {
    request: collectorType('metrics.v1.ExportMetricsServiceRequest'),
    response: collectorType('metrics.v1.ExportMetricsServiceResponse'),
    service: 'opentelemetry.proto.collector.metrics.v1.MetricsService',
  },
  logs: {
    request: collectorType('logs.v1.ExportLogsServiceRequest'),
    response: collectorType('logs.v1.ExportLogsServiceResponse'),
    service: 'opentelemetry.proto.collector.logs.v1.LogsService',
  },
};

// OTLP/JSON differs from the protobuf JSON mapping in one way that matters here: trace and span ids are hex,
// not base64. Convert them to bytes, then let protobufjs map the rest (camelCase names, int64 as strings).
const ID_KEYS = new Set(['traceId', 'spanId', 'parentSpanId']); // also a span link's traceId and spanId
function hexIdsToBytes(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(hexIdsToBytes);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (ID_KEYS.has(key) && typeof v === 'string') {
      if (v !== '' && !/^[0-9a-fA-F]+$/.test(v)) throw new Error(`${key} is not hex: ${v.slice(0, 64)}`);
      out[key] = Buffer.from(v, 'hex');
    } else out[key] = hexIdsToBytes(v);
  }
  return out;
}

export function decodeProtobuf(signal: Signal, body: Uint8Array): ProtoMessage {
  return SIGNALS[signal].request.decode(body) as unknown as ProtoMessage;
}

export function decodeJson(signal: Signal, text: string): ProtoMessage {
  const type = SIGNALS[signal].request;
  const obj = hexIdsToBytes(JSON.parse(text)) as object;
  const problem = type.verify(obj);
  // OTLP/JSON writes int64 as strings and we pass ids as Buffers: verify() flags those, fromObject() takes them.
  if (problem !== null && !/bytes|buffer|Long|integer/.test(problem)) throw new Error(problem);
  return type.fromObject(obj) as unknown as ProtoMessage;
}

export function encodeResponse(signal: Signal): Uint8Array {
  return SIGNALS[signal].response.encode({}).finish();
}

// ---- plain data ----------------------------------------------------------------------------------------------

export type AttrValue = string | number | boolean | null | AttrValue[] | { [k: string]: AttrValue };
export type Attrs = Record<string, AttrValue>;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Attrs;
  status: { code: number; message: string };
  events: { name: string; attributes: Attrs }[];
  links: { traceId: string; spanId: string; traceState: string; attributes: Attrs }[];
  resource: Attrs;
  scope: { name: string; version: string };
}

export interface ReceivedDataPoint {
  attributes: Attrs;
  /** When the point was taken (0 when the exporter left it out). */
  timeUnixNano: bigint;
  value?: number;
  count?: number;
  sum?: number;
  min?: number;
  max?: number;
  bucketCounts?: number[];
  explicitBounds?: number[];
}

export interface ReceivedMetric {
  name: string;
  description: string;
  unit: string;
  type: 'Gauge' | 'Sum' | 'Histogram' | 'ExponentialHistogram' | 'Summary' | 'Empty';
  isMonotonic?: boolean;
  temporality?: number;
  dataPoints: ReceivedDataPoint[];
  resource: Attrs;
  scope: { name: string; version: string };
}

export interface ReceivedLog {
  /** LogRecord.time_unix_nano, or observed_time_unix_nano when that is unset (0 when both are). */
  timeUnixNano: bigint;
  traceId: string;
  spanId: string;
  severityNumber: number;
  severityText: string;
  /** LogRecord.event_name (field 12): set on events, empty on plain log records. */
  eventName: string;
  body: AttrValue;
  attributes: Attrs;
  resource: Attrs;
  scope: { name: string; version: string };
}

type M = Record<string, any>; // decoded protobuf messages: fields are optional and typed by the schema above

export const hex = (b: unknown): string => (b instanceof Uint8Array ? Buffer.from(b).toString('hex') : '');
export const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(String(v)));
export const big = (v: unknown): bigint => (v === null || v === undefined ? 0n : BigInt(String(v)));

/**
 * Whether a decoded message carries `field` itself. protobufjs keeps every field's default on the prototype, so
 * the members of a oneof that is not set read as '' or 0, not undefined (AnyValue, a data point's value).
 */
export function has(m: M | null | undefined, field: string): boolean {
  return m !== null && m !== undefined && Object.hasOwn(m, field) && m[field] !== null && m[field] !== undefined;
}

export function anyValue(v: M | null | undefined): AttrValue {
  if (v === null || v === undefined) return null;
  if (has(v, 'stringValue')) return v.stringValue as string;
  if (has(v, 'boolValue')) return v.boolValue as boolean;
  if (has(v, 'intValue')) return num(v.intValue);
  if (has(v, 'doubleValue')) return v.doubleValue as number;
  if (has(v, 'arrayValue')) return ((v.arrayValue.values ?? []) as M[]).map(anyValue);
  if (has(v, 'kvlistValue')) return attrs(v.kvlistValue.values);
  if (has(v, 'bytesValue')) return Buffer.from(v.bytesValue as Uint8Array).toString('base64');
  return null;
}

export function attrs(list: unknown): Attrs {
  const out: Attrs = {};
  for (const kv of (list ?? []) as M[]) out[kv.key as string] = anyValue(kv.value);
  return out;
}

const scopeOf = (s: M | null | undefined) => ({ name: (s?.name as string) ?? '', version: (s?.version as string) ?? '' });

export function spansOf(req: M): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of (req.resourceSpans ?? []) as M[]) {
    const resource = attrs(rs.resource?.attributes);
    for (const ss of (rs.scopeSpans ?? []) as M[]) {
      const scope = scopeOf(ss.scope);
      for (const s of (ss.spans ?? []) as M[]) {
        out.push({
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          parentSpanId: hex(s.parentSpanId),
          name: (s.name as string) ?? '',
          kind: num(s.kind),
          startTimeUnixNano: big(s.startTimeUnixNano),
          endTimeUnixNano: big(s.endTimeUnixNano),
          attributes: attrs(s.attributes),
          status: { code: num(s.status?.code), message: (s.status?.message as string) ?? '' },
          events: ((s.events ?? []) as M[]).map((e) => ({ name: e.name as string, attributes: attrs(e.attributes) })),
          links: ((s.links ?? []) as M[]).map((l) => ({ traceId: hex(l.traceId), spanId: hex(l.spanId), traceState: (l.traceState as string) ?? '', attributes: attrs(l.attributes) })),
          resource,
          scope,
        });
      }
    }
  }
  return out;
}

function numberPoint(p: M): ReceivedDataPoint {
  const value = has(p, 'asDouble') ? (p.asDouble as number) : num(p.asInt);
  return { attributes: attrs(p.attributes), timeUnixNano: big(p.timeUnixNano), value };
}

export function metricsOf(req: M): ReceivedMetric[] {
  const out: ReceivedMetric[] = [];
  for (const rm of (req.resourceMetrics ?? []) as M[]) {
    const resource = attrs(rm.resource?.attributes);
    for (const sm of (rm.scopeMetrics ?? []) as M[]) {
      const scope = scopeOf(sm.scope);
      for (const m of (sm.metrics ?? []) as M[]) {
        const base = { name: m.name ?? '', description: m.description ?? '', unit: m.unit ?? '', resource, scope };
        if (m.sum) {
          out.push({ ...base, type: 'Sum', isMonotonic: !!m.sum.isMonotonic, temporality: num(m.sum.aggregationTemporality), dataPoints: ((m.sum.dataPoints ?? []) as M[]).map(numberPoint) });
        } else if (m.gauge) {
          out.push({ ...base, type: 'Gauge', dataPoints: ((m.gauge.dataPoints ?? []) as M[]).map(numberPoint) });
        } else if (m.histogram) {
          out.push({
            ...base,
            type: 'Histogram',
            temporality: num(m.histogram.aggregationTemporality),
            dataPoints: ((m.histogram.dataPoints ?? []) as M[]).map((p) => ({
              attributes: attrs(p.attributes),
              timeUnixNano: big(p.timeUnixNano),
              count: num(p.count),
              sum: has(p, 'sum') ? (p.sum as number) : undefined,
              min: has(p, 'min') ? (p.min as number) : undefined,
              max: has(p, 'max') ? (p.max as number) : undefined,
              bucketCounts: ((p.bucketCounts ?? []) as unknown[]).map(num),
              explicitBounds: (p.explicitBounds ?? []) as number[],
            })),
          });
        } else if (m.exponentialHistogram) {
          out.push({ ...base, type: 'ExponentialHistogram', temporality: num(m.exponentialHistogram.aggregationTemporality), dataPoints: [] });
        } else if (m.summary) {
          out.push({ ...base, type: 'Summary', dataPoints: [] });
        } else out.push({ ...base, type: 'Empty', dataPoints: [] });
      }
    }
  }
  return out;
}

export function logsOf(req: M): ReceivedLog[] {
  const out: ReceivedLog[] = [];
  for (const rl of (req.resourceLogs ?? []) as M[]) {
    const resource = attrs(rl.resource?.attributes);
    for (const sl of (rl.scopeLogs ?? []) as M[]) {
      const scope = scopeOf(sl.scope);
      for (const l of (sl.logRecords ?? []) as M[]) {
        const time = big(l.timeUnixNano);
        out.push({
          timeUnixNano: time > 0n ? time : big(l.observedTimeUnixNano),
          traceId: hex(l.traceId),
          spanId: hex(l.spanId),
          severityNumber: num(l.severityNumber),
          severityText: (l.severityText as string) ?? '',
          eventName: (l.eventName as string) ?? '',
          body: anyValue(l.body),
          attributes: attrs(l.attributes),
          resource,
          scope,
        });
      }
    }
  }
  return out;
}

// ---- counting without decoding -------------------------------------------------------------------------------
// The benchmark's sink must cost far less than the service it measures: a full protobufjs decode of every span
// costs about as much as producing it. This walks the wire format and counts the messages at a field path
// (hand-written: protobufjs has no "count repeated fields" mode).

function varint(buf: Uint8Array, pos: { i: number }): number {
  let result = 0;
  let shift = 0;
  for (;;) {
    const b = buf[pos.i++]!;
    result += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return result;
    shift += 7;
    if (shift > 63 || pos.i > buf.length) throw new Error('bad varint');
  }
}

/** Counts the length-delimited messages found by following `path` (field numbers) from the top message. */
export function countAtPath(buf: Uint8Array, path: readonly number[], start = 0, end = buf.length): number {
  const pos = { i: start };
  let count = 0;
  while (pos.i < end) {
    const key = varint(buf, pos);
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) varint(buf, pos);
    else if (wire === 1) pos.i += 8;
    else if (wire === 5) pos.i += 4;
    else if (wire === 2) {
      const len = varint(buf, pos);
      if (field === path[0]) count += path.length === 1 ? 1 : countAtPath(buf, path.slice(1), pos.i, pos.i + len);
      pos.i += len;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
  if (pos.i !== end) throw new Error('truncated message');
  return count;
}

/** Spans, metrics or log records in an encoded export request. */
export const COUNT_PATH: Record<Signal, readonly number[]> = {
  traces: [1, 2, 2], // resource_spans.scope_spans.spans
  metrics: [1, 2, 2], // resource_metrics.scope_metrics.metrics
  logs: [1, 2, 2], // resource_logs.scope_logs.log_records
};
