// Text in the layout of the OpenTelemetry Collector's `debug` exporter (exporter/debugexporter/internal/otlptext):
// a summary line per export, and with verbosity "detailed" every resource, scope, span, metric data point and
// log record. Verbosity "focused" (ours, not the Collector's) is "detailed" for spans, logs and the application's
// metrics, but keeps a terminal calm at rest: see metricsText. Written by hand because no npm package prints it; the layout is what users grep for
// (`Trace ID       : ...`, `Name           : POST /predict`, `-> Name: http_requests_total`).
import { anyValue, attrs, big, has, hex, num, type AttrValue, type Signal } from './otlp-model.ts';

export type Verbosity = 'basic' | 'normal' | 'focused' | 'detailed';

type M = Record<string, any>;

const SPAN_KINDS = ['Unspecified', 'Internal', 'Server', 'Client', 'Producer', 'Consumer'];
const STATUS_CODES = ['Unset', 'Ok', 'Error'];
const TEMPORALITY = ['Unspecified', 'Delta', 'Cumulative'];
const SEVERITY_NAMES = ['Unspecified', 'Trace', 'Trace2', 'Trace3', 'Trace4', 'Debug', 'Debug2', 'Debug3', 'Debug4', 'Info', 'Info2', 'Info3', 'Info4', 'Warn', 'Warn2', 'Warn3', 'Warn4', 'Error', 'Error2', 'Error3', 'Error4', 'Fatal', 'Fatal2', 'Fatal3', 'Fatal4'];

/** Go's time.Time.String() for a UTC Unix-nanosecond timestamp: `2024-01-15 10:35:12.1 +0000 UTC`. */
export function goTime(nanos: bigint): string {
  const ms = Number(nanos / 1_000_000n);
  const frac = (nanos % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  const iso = new Date(ms).toISOString(); // 2024-01-15T10:35:12.100Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac === '' ? '' : '.' + frac} +0000 UTC`;
}

/** pcommon.Value's `Type(AsString)`: Str(x), Int(1), Double(1.5), Bool(true), Slice([...]), Map({...}). */
export function valueString(v: M | null | undefined): string {
  if (v === null || v === undefined) return 'Empty()';
  if (has(v, 'stringValue')) return `Str(${v.stringValue})`;
  if (has(v, 'boolValue')) return `Bool(${v.boolValue})`;
  if (has(v, 'intValue')) return `Int(${String(v.intValue)})`;
  if (has(v, 'doubleValue')) return `Double(${String(v.doubleValue)})`;
  if (has(v, 'arrayValue')) return `Slice(${JSON.stringify(anyValue(v))})`;
  if (has(v, 'kvlistValue')) return `Map(${JSON.stringify(anyValue(v))})`;
  if (has(v, 'bytesValue')) return `Bytes(${Buffer.from(v.bytesValue).toString('base64')})`;
  return 'Empty()';
}

class Buf {
  lines: string[] = [];
  entry(s: string) {
    this.lines.push(s);
  }
  attr(name: string, value: string) {
    this.lines.push(`    ${name.padEnd(15)}: ${value}`);
  }
  attributes(header: string, list: M[] | null | undefined) {
    if (!list || list.length === 0) return;
    this.entry(`${header}:`);
    for (const kv of list) this.entry(`     -> ${kv.key}: ${valueString(kv.value)}`);
  }
  /** A span event's or link's attributes: the debug exporter's `"     -> Attributes:" + ":"` header, one level in. */
  nestedAttributes(list: M[] | null | undefined) {
    if (!list || list.length === 0) return;
    this.entry('     -> Attributes::');
    for (const kv of list) this.entry(`          -> ${kv.key}: ${valueString(kv.value)}`);
  }
  resource(kind: string, i: number, r: M) {
    this.entry(`${kind} #${i}`);
    this.entry(`Resource SchemaURL: ${r.schemaUrl ?? ''}`);
    this.attributes('Resource attributes', r.resource?.attributes);
  }
  scope(kind: string, j: number, s: M) {
    this.entry(`${kind} #${j}`);
    this.entry(`${kind} SchemaURL: ${s.schemaUrl ?? ''}`);
    this.entry(`InstrumentationScope ${s.scope?.name ?? ''} ${s.scope?.version ?? ''}`);
    this.attributes('InstrumentationScope attributes', s.scope?.attributes);
  }
}

const f6 = (x: unknown) => num(x).toFixed(6);

export function tracesText(req: M): string[] {
  const b = new Buf();
  ((req.resourceSpans ?? []) as M[]).forEach((rs, i) => {
    b.resource('ResourceSpans', i, rs);
    ((rs.scopeSpans ?? []) as M[]).forEach((ss, j) => {
      b.scope('ScopeSpans', j, ss);
      ((ss.spans ?? []) as M[]).forEach((s, k) => {
        b.entry(`Span #${k}`);
        b.attr('Trace ID', hex(s.traceId));
        b.attr('Parent ID', hex(s.parentSpanId));
        b.attr('ID', hex(s.spanId));
        b.attr('Name', s.name ?? '');
        b.attr('Kind', SPAN_KINDS[num(s.kind)] ?? String(s.kind));
        if (s.traceState) b.attr('TraceState', s.traceState);
        b.attr('Start time', goTime(big(s.startTimeUnixNano)));
        b.attr('End time', goTime(big(s.endTimeUnixNano)));
        b.attr('Status code', STATUS_CODES[num(s.status?.code)] ?? String(s.status?.code));
        b.attr('Status message', s.status?.message ?? '');
        b.attributes('Attributes', s.attributes);
        const events = (s.events ?? []) as M[];
        if (events.length > 0) {
          b.entry('Events:');
          events.forEach((e, n) => {
            b.entry(`SpanEvent #${n}`);
            b.entry(`     -> Name: ${e.name ?? ''}`);
            b.entry(`     -> Timestamp: ${goTime(big(e.timeUnixNano))}`);
            b.entry(`     -> DroppedAttributesCount: ${num(e.droppedAttributesCount)}`);
            b.nestedAttributes(e.attributes);
          });
        }
        const links = (s.links ?? []) as M[];
        if (links.length > 0) {
          b.entry('Links:');
          links.forEach((l, n) => {
            b.entry(`SpanLink #${n}`);
            b.entry(`     -> Trace ID: ${hex(l.traceId)}`);
            b.entry(`     -> ID: ${hex(l.spanId)}`);
            b.entry(`     -> TraceState: ${l.traceState ?? ''}`);
            b.entry(`     -> DroppedAttributesCount: ${num(l.droppedAttributesCount)}`);
            b.nestedAttributes(l.attributes);
          });
        }
      });
    });
  });
  return b.lines;
}

function numberPoints(b: Buf, points: M[]) {
  points.forEach((p, n) => {
    b.entry(`NumberDataPoints #${n}`);
    b.attributes('Data point attributes', p.attributes);
    b.entry(`StartTimestamp: ${goTime(big(p.startTimeUnixNano))}`);
    b.entry(`Timestamp: ${goTime(big(p.timeUnixNano))}`);
    b.entry(has(p, 'asDouble') ? `Value: ${f6(p.asDouble)}` : `Value: ${String(p.asInt ?? 0)}`);
  });
}

function metricBlock(b: Buf, m: M, k: number) {
  b.entry(`Metric #${k}`);
  b.entry('Descriptor:');
  b.entry(`     -> Name: ${m.name ?? ''}`);
  b.entry(`     -> Description: ${m.description ?? ''}`);
  b.entry(`     -> Unit: ${m.unit ?? ''}`);
  if (m.sum) {
    b.entry('     -> DataType: Sum');
    b.entry(`     -> IsMonotonic: ${!!m.sum.isMonotonic}`);
    b.entry(`     -> AggregationTemporality: ${TEMPORALITY[num(m.sum.aggregationTemporality)]}`);
    numberPoints(b, m.sum.dataPoints ?? []);
  } else if (m.gauge) {
    b.entry('     -> DataType: Gauge');
    numberPoints(b, m.gauge.dataPoints ?? []);
  } else if (m.histogram) {
    b.entry('     -> DataType: Histogram');
    b.entry(`     -> AggregationTemporality: ${TEMPORALITY[num(m.histogram.aggregationTemporality)]}`);
    ((m.histogram.dataPoints ?? []) as M[]).forEach((p, n) => {
      b.entry(`HistogramDataPoints #${n}`);
      b.attributes('Data point attributes', p.attributes);
      b.entry(`StartTimestamp: ${goTime(big(p.startTimeUnixNano))}`);
      b.entry(`Timestamp: ${goTime(big(p.timeUnixNano))}`);
      b.entry(`Count: ${String(p.count ?? 0)}`);
      if (has(p, 'sum')) b.entry(`Sum: ${f6(p.sum)}`);
      if (has(p, 'min')) b.entry(`Min: ${f6(p.min)}`);
      if (has(p, 'max')) b.entry(`Max: ${f6(p.max)}`);
      ((p.explicitBounds ?? []) as number[]).forEach((x, e) => b.entry(`ExplicitBounds #${e}: ${f6(x)}`));
      ((p.bucketCounts ?? []) as unknown[]).forEach((c, e) => b.entry(`Buckets #${e}, Count: ${String(c)}`));
    });
  } else if (m.exponentialHistogram) {
    b.entry('     -> DataType: ExponentialHistogram');
  } else if (m.summary) {
    b.entry('     -> DataType: Summary');
  } else b.entry('     -> DataType: Empty');
}

const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;
const pointsOf = (m: M): M[] => (m.sum ?? m.gauge ?? m.histogram ?? m.exponentialHistogram ?? m.summary)?.dataPoints ?? [];

/** Instrumentation libraries (the Node runtime metrics, HTTP instrumentations): summarised in focused verbosity. */
export const isLibraryScope = (name: string): boolean => name.startsWith('@opentelemetry/instrumentation-');
/** Process metrics (`process.cpu.time`) move at every export, like the runtime's: summarised in focused verbosity. */
const isProcessMetric = (m: M): boolean => String(m.name ?? '').startsWith('process.');

/**
 * What focused verbosity remembers between exports: each metric's data points (values and attributes, not
 * timestamps) as last seen, so that a cumulative metric nothing has moved is not printed again.
 */
export class MetricMemory {
  private readonly last = new Map<string, string>();
  private readonly maxEntries: number;
  constructor(maxEntries = 10_000) {
    this.maxEntries = maxEntries;
  }
  /** True when `metric` differs from what was last seen under `key` (or is new); remembers it either way. */
  changed(key: string, metric: M): boolean {
    const signature = JSON.stringify(
      pointsOf(metric).map((p) => [attrs(p.attributes), String(p.asDouble ?? ''), String(p.asInt ?? ''), String(p.count ?? ''), String(p.sum ?? ''), ((p.bucketCounts ?? []) as unknown[]).map(String)]),
    );
    if (this.last.get(key) === signature) return false;
    if (this.last.size >= this.maxEntries && !this.last.has(key)) this.last.clear();
    this.last.set(key, signature);
    return true;
  }
}

/**
 * The metrics block. With `memory` (focused verbosity), an instrumentation library's scope is one line (metric and
 * data point counts), and so is a scope whose metrics all equal what the previous export carried; otherwise only
 * the metrics that changed are printed, with their index in the scope. The resource block is printed only above
 * something printed in detail, so an export of unchanged and library metrics takes one line per scope.
 */
export function metricsText(req: M, memory?: MetricMemory): string[] {
  const b = new Buf();
  ((req.resourceMetrics ?? []) as M[]).forEach((rm, i) => {
    const scopes = (rm.scopeMetrics ?? []) as M[];
    if (memory === undefined) {
      b.resource('ResourceMetrics', i, rm);
      scopes.forEach((sm, j) => {
        b.scope('ScopeMetrics', j, sm);
        ((sm.metrics ?? []) as M[]).forEach((m, k) => metricBlock(b, m, k));
      });
      return;
    }
    const service = String(attrs(rm.resource?.attributes)['service.name'] ?? '');
    const plans = scopes.map((sm) => {
      const metrics = (sm.metrics ?? []) as M[];
      const name = (sm.scope?.name as string) ?? '';
      if (isLibraryScope(name)) return { sm, metrics, library: true, changed: [] as number[], processCount: 0 };
      const processCount = metrics.filter(isProcessMetric).length;
      const changed = metrics.flatMap((m, k) => (!isProcessMetric(m) && memory.changed(`${service}\0${name}\0${m.name ?? ''}`, m) ? [k] : []));
      return { sm, metrics, library: false, changed, processCount };
    });
    if (plans.some((p) => p.changed.length > 0)) b.resource('ResourceMetrics', i, rm);
    plans.forEach(({ sm, metrics, library, changed, processCount }, j) => {
      const processNote = processCount > 0 ? `; ${count(processCount, 'process metric')} summarised` : '';
      const scope = `InstrumentationScope ${sm.scope?.name ?? ''} ${sm.scope?.version ?? ''}`;
      if (library) {
        const points = metrics.reduce((n, m) => n + pointsOf(m).length, 0);
        b.entry(`${scope}: ${count(metrics.length, 'metric')}, ${count(points, 'data point')} (summarised; verbosity detailed prints them)`);
      } else if (changed.length === 0) {
        b.entry(`${scope}: ${count(metrics.length - processCount, 'metric')} unchanged since the last export${processNote}`);
      } else {
        b.scope('ScopeMetrics', j, sm);
        for (const k of changed) metricBlock(b, metrics[k]!, k);
        const unchanged = metrics.length - changed.length - processCount;
        if (unchanged > 0 || processCount > 0) b.entry(`${count(unchanged, 'more metric')} unchanged since the last export${processNote}`);
      }
    });
  });
  return b.lines;
}

function bodyString(v: M | null | undefined): string {
  return valueString(v);
}

export function logsText(req: M): string[] {
  const b = new Buf();
  ((req.resourceLogs ?? []) as M[]).forEach((rl, i) => {
    b.resource('ResourceLog', i, rl);
    ((rl.scopeLogs ?? []) as M[]).forEach((sl, j) => {
      b.scope('ScopeLogs', j, sl);
      ((sl.logRecords ?? []) as M[]).forEach((l, k) => {
        b.entry(`LogRecord #${k}`);
        b.entry(`ObservedTimestamp: ${goTime(big(l.observedTimeUnixNano))}`);
        b.entry(`Timestamp: ${goTime(big(l.timeUnixNano))}`);
        b.entry(`SeverityText: ${l.severityText ?? ''}`);
        const sev = num(l.severityNumber);
        b.entry(`SeverityNumber: ${SEVERITY_NAMES[sev] ?? 'Unspecified'}(${sev})`);
        if (l.eventName) b.entry(`EventName: ${l.eventName}`);
        b.entry(`Body: ${bodyString(l.body)}`);
        b.attributes('Attributes', l.attributes);
        b.entry(`Trace ID: ${hex(l.traceId)}`);
        b.entry(`Span ID: ${hex(l.spanId)}`);
        b.entry(`Flags: ${num(l.flags)}`);
      });
    });
  });
  return b.lines;
}

/** The summary line's fields, as the debug exporter logs them with every export. */
export function summary(signal: Signal, req: M): { message: string; fields: Record<string, number> } {
  if (signal === 'traces') {
    const rs = (req.resourceSpans ?? []) as M[];
    const spans = rs.flatMap((r) => (r.scopeSpans ?? []) as M[]).reduce((n, s) => n + (s.spans?.length ?? 0), 0);
    return { message: 'Traces', fields: { 'resource spans': rs.length, spans } };
  }
  if (signal === 'metrics') {
    const rm = (req.resourceMetrics ?? []) as M[];
    const metrics = rm.flatMap((r) => (r.scopeMetrics ?? []) as M[]).flatMap((s) => (s.metrics ?? []) as M[]);
    const points = metrics.reduce((n, m) => {
      const d = m.sum ?? m.gauge ?? m.histogram ?? m.exponentialHistogram ?? m.summary;
      return n + (d?.dataPoints?.length ?? 0);
    }, 0);
    return { message: 'Metrics', fields: { 'resource metrics': rm.length, metrics: metrics.length, 'data points': points } };
  }
  const rl = (req.resourceLogs ?? []) as M[];
  const records = rl.flatMap((r) => (r.scopeLogs ?? []) as M[]).reduce((n, s) => n + (s.logRecords?.length ?? 0), 0);
  return { message: 'Logs', fields: { 'resource logs': rl.length, 'log records': records } };
}

const TEXT: Record<Signal, (req: M) => string[]> = { traces: tracesText, metrics: (req) => metricsText(req), logs: logsText };

/**
 * The whole output for one export, like the Collector's console log: `<time>\tinfo\t<Summary>\t{fields}` then,
 * for detailed verbosity, the text block (its first line on an `info` line of its own, as zap prints it).
 * Focused verbosity passes `memory`, which the receiver keeps from one export to the next.
 */
export function formatExport(signal: Signal, req: M, verbosity: Verbosity, now = new Date(), memory = new MetricMemory()): string {
  const ts = now.toISOString();
  const s = summary(signal, req);
  const fields = Object.entries({ 'otelcol.component.id': 'debug', 'otelcol.component.kind': 'exporter', 'otelcol.signal': signal, ...s.fields })
    .map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`)
    .join(', ');
  let out = `${ts}\tinfo\t${s.message}\t{${fields}}\n`;
  if (verbosity === 'basic') return out;
  const lines = verbosity === 'focused' && signal === 'metrics' ? metricsText(req, memory) : TEXT[signal](req);
  if (verbosity === 'normal') {
    // normal: one line per span / data point / record; we keep the identifying lines only.
    const keep = lines.filter((l) => /^(Span #|    Trace ID|    Name|Metric #|     -> Name:|LogRecord #|Body:|Trace ID:)/.test(l));
    return out + keep.map((l) => `${ts}\tinfo\t${l.trim()}`).join('\n') + '\n';
  }
  if (lines.length > 0) out += `${ts}\tinfo\t${lines[0]}\n${lines.slice(1).join('\n')}\n`;
  return out;
}

export type { AttrValue };
