// What the console shows: the spans, metric points and log records the receiver decoded, kept in memory within
// fixed limits (oldest out first, with a count of what left), and the queries the JSON API answers from them.
import type { Attrs, AttrValue, ReceivedLog, ReceivedMetric, ReceivedSpan } from '../otlp-model.ts';

export interface ConsoleLimits {
  /** Traces kept; the oldest trace (first seen) goes first. */
  maxTraces: number;
  /** Spans kept per trace; more are counted and dropped. */
  maxSpansPerTrace: number;
  /** Log records kept. */
  maxLogs: number;
  /** Metric time series kept (metric name + attributes); the least recently updated goes first. */
  maxSeries: number;
  /** Points kept per time series. */
  maxPointsPerSeries: number;
}

export const DEFAULT_CONSOLE_LIMITS: ConsoleLimits = {
  maxTraces: 2_000,
  maxSpansPerTrace: 1_000,
  maxLogs: 20_000,
  maxSeries: 2_000,
  maxPointsPerSeries: 720, // an hour at the service's 5 s export interval
};

interface Trace {
  traceId: string;
  spans: ReceivedSpan[];
  startNs: bigint;
  endNs: bigint;
  errors: number;
}

interface StoredLog extends ReceivedLog {
  /** Arrival order, for a stable newest-first listing. */
  seq: number;
}

interface Point {
  /** Seconds since the epoch. */
  t: number;
  value?: number;
  count?: number;
  sum?: number;
  bucketCounts?: number[];
  bounds?: number[];
}

interface Series {
  id: number;
  name: string;
  attributes: Attrs;
  points: Point[];
}

interface MetricInfo {
  name: string;
  type: ReceivedMetric['type'];
  unit: string;
  description: string;
  isMonotonic: boolean;
  /** 1 delta, 2 cumulative (OTLP AggregationTemporality). */
  temporality: number;
  series: Map<string, Series>;
}

export interface Evicted {
  traces: number;
  spans: number;
  logs: number;
  series: number;
  points: number;
}

export interface TraceQuery {
  /** Substring of any span's name or http.route, case-insensitive. */
  name?: string;
  minDurationMs?: number;
  errorsOnly?: boolean;
  /** Prefix of the trace id. */
  traceId?: string;
  limit?: number;
}

export interface LogQuery {
  /** Substring of the body or of any attribute value, case-insensitive. */
  text?: string;
  /** Lowest severity number shown (OTLP: 5 debug, 9 info, 13 warn, 17 error, 21 fatal). */
  minSeverity?: number;
  traceId?: string;
  limit?: number;
}

const ms = (ns: bigint) => Number(ns / 1000n) / 1000;
const serviceOf = (resource: Attrs) => String(resource['service.name'] ?? '');
const text = (v: AttrValue) => (typeof v === 'string' ? v : JSON.stringify(v));

export class ConsoleStore {
  readonly limits: ConsoleLimits;
  readonly evicted: Evicted = { traces: 0, spans: 0, logs: 0, series: 0, points: 0 };
  private readonly traces = new Map<string, Trace>();
  private logs: StoredLog[] = [];
  private logSeq = 0;
  private readonly metrics = new Map<string, MetricInfo>();
  /** Every series, least recently updated first (a Map keeps insertion order; an update re-inserts). */
  private readonly seriesByAge = new Map<Series, MetricInfo>();
  private nextSeriesId = 1;

  constructor(limits: Partial<ConsoleLimits> = {}) {
    this.limits = { ...DEFAULT_CONSOLE_LIMITS, ...limits };
  }

  addSpans(spans: ReceivedSpan[]): void {
    for (const span of spans) {
      let trace = this.traces.get(span.traceId);
      if (trace === undefined) {
        trace = { traceId: span.traceId, spans: [], startNs: span.startTimeUnixNano, endNs: span.endTimeUnixNano, errors: 0 };
        this.traces.set(span.traceId, trace);
        if (this.traces.size > this.limits.maxTraces) {
          const [oldestId, oldest] = this.traces.entries().next().value!;
          this.traces.delete(oldestId);
          this.evicted.traces++;
          this.evicted.spans += oldest.spans.length;
        }
      }
      if (trace.spans.length >= this.limits.maxSpansPerTrace) {
        this.evicted.spans++;
        continue;
      }
      trace.spans.push(span);
      if (span.startTimeUnixNano < trace.startNs) trace.startNs = span.startTimeUnixNano;
      if (span.endTimeUnixNano > trace.endNs) trace.endNs = span.endTimeUnixNano;
      if (span.status.code === 2) trace.errors++;
    }
  }

  addLogs(logs: ReceivedLog[]): void {
    for (const log of logs) this.logs.push({ ...log, seq: this.logSeq++ });
    const over = this.logs.length - this.limits.maxLogs;
    if (over > 0) {
      this.logs.splice(0, over);
      this.evicted.logs += over;
    }
  }

  addMetrics(metrics: ReceivedMetric[], receivedAt = Date.now()): void {
    for (const m of metrics) {
      if (m.type === 'Empty') continue;
      let info = this.metrics.get(m.name);
      if (info === undefined) {
        info = { name: m.name, type: m.type, unit: m.unit, description: m.description, isMonotonic: !!m.isMonotonic, temporality: m.temporality ?? 0, series: new Map() };
        this.metrics.set(m.name, info);
      }
      for (const p of m.dataPoints) {
        const key = attributeKey(p.attributes);
        let series = info.series.get(key);
        if (series === undefined) {
          series = { id: this.nextSeriesId++, name: m.name, attributes: p.attributes, points: [] };
          info.series.set(key, series);
        }
        const t = p.timeUnixNano > 0n ? ms(p.timeUnixNano) / 1000 : receivedAt / 1000;
        const point: Point = m.type === 'Histogram' ? { t, count: p.count ?? 0, sum: p.sum, bucketCounts: p.bucketCounts ?? [], bounds: p.explicitBounds ?? [] } : { t, value: p.value ?? 0 };
        series.points.push(point);
        if (series.points.length > this.limits.maxPointsPerSeries) {
          series.points.shift();
          this.evicted.points++;
        }
        this.seriesByAge.delete(series);
        this.seriesByAge.set(series, info);
      }
    }
    while (this.seriesByAge.size > this.limits.maxSeries) {
      const [series, info] = this.seriesByAge.entries().next().value!;
      this.seriesByAge.delete(series);
      info.series.delete(attributeKey(series.attributes));
      if (info.series.size === 0) this.metrics.delete(info.name);
      this.evicted.series++;
      this.evicted.points += series.points.length;
    }
  }

  stats() {
    let spans = 0;
    for (const t of this.traces.values()) spans += t.spans.length;
    let points = 0;
    for (const s of this.seriesByAge.keys()) points += s.points.length;
    return {
      stored: { traces: this.traces.size, spans, logs: this.logs.length, metrics: this.metrics.size, series: this.seriesByAge.size, points },
      evicted: { ...this.evicted },
      limits: { ...this.limits },
    };
  }

  // ---- traces ------------------------------------------------------------------------------------------------

  listTraces(q: TraceQuery = {}) {
    const name = q.name?.toLowerCase();
    const idPrefix = q.traceId?.toLowerCase();
    const out = [];
    for (const t of this.traces.values()) {
      const durationMs = ms(t.endNs - t.startNs);
      if (idPrefix && !t.traceId.startsWith(idPrefix)) continue;
      if (q.errorsOnly && t.errors === 0) continue;
      if (q.minDurationMs !== undefined && durationMs < q.minDurationMs) continue;
      if (name && !t.spans.some((s) => s.name.toLowerCase().includes(name) || String(s.attributes['http.route'] ?? '').toLowerCase().includes(name))) continue;
      out.push(t);
    }
    out.sort((a, b) => (a.startNs < b.startNs ? 1 : a.startNs > b.startNs ? -1 : 0));
    return out.slice(0, q.limit ?? 100).map((t) => this.summary(t));
  }

  private summary(t: Trace) {
    const root = rootOf(t);
    return {
      traceId: t.traceId,
      rootName: root.name,
      service: serviceOf(root.resource),
      startTimeMs: ms(t.startNs),
      durationMs: ms(t.endNs - t.startNs),
      spanCount: t.spans.length,
      errorCount: t.errors,
      /** The root span's http.response.status_code, when it has one. */
      httpStatus: root.attributes['http.response.status_code'] ?? null,
    };
  }

  getTrace(traceId: string) {
    const t = this.traces.get(traceId.toLowerCase());
    if (t === undefined) return undefined;
    const spans = [...t.spans].sort((a, b) => (a.startTimeUnixNano < b.startTimeUnixNano ? -1 : a.startTimeUnixNano > b.startTimeUnixNano ? 1 : 0));
    // Links point one way on the wire (from the span that holds them); the reverse side is found here.
    const linkedFrom = [];
    for (const other of this.traces.values()) {
      for (const s of other.spans) {
        for (const l of s.links) {
          if (l.traceId === t.traceId) linkedFrom.push({ traceId: s.traceId, spanId: s.spanId, name: s.name, toSpanId: l.spanId, attributes: l.attributes });
        }
      }
    }
    return {
      ...this.summary(t),
      spans: spans.map((s) => ({
        spanId: s.spanId,
        parentSpanId: s.parentSpanId,
        name: s.name,
        kind: s.kind,
        service: serviceOf(s.resource),
        scope: s.scope.name,
        startOffsetMs: ms(s.startTimeUnixNano - t.startNs),
        durationMs: ms(s.endTimeUnixNano - s.startTimeUnixNano),
        status: s.status,
        attributes: s.attributes,
        events: s.events,
        links: s.links.map((l) => ({ ...l, stored: this.traces.has(l.traceId) })),
        resource: s.resource,
      })),
      linkedFrom,
      logs: this.listLogs({ traceId: t.traceId, limit: 1_000 }).reverse(),
    };
  }

  // ---- logs --------------------------------------------------------------------------------------------------

  listLogs(q: LogQuery = {}) {
    const needle = q.text?.toLowerCase();
    const traceId = q.traceId?.toLowerCase();
    const limit = q.limit ?? 200;
    const out = [];
    for (let i = this.logs.length - 1; i >= 0 && out.length < limit; i--) {
      const l = this.logs[i]!;
      if (traceId && l.traceId !== traceId) continue;
      if (q.minSeverity !== undefined && l.severityNumber < q.minSeverity) continue;
      if (needle && !text(l.body).toLowerCase().includes(needle) && !Object.values(l.attributes).some((v) => text(v).toLowerCase().includes(needle))) continue;
      out.push({
        timeMs: ms(l.timeUnixNano),
        severityNumber: l.severityNumber,
        severityText: l.severityText,
        body: text(l.body),
        traceId: l.traceId,
        spanId: l.spanId,
        service: serviceOf(l.resource),
        attributes: l.attributes,
      });
    }
    return out;
  }

  // ---- metrics -----------------------------------------------------------------------------------------------

  listMetrics() {
    return [...this.metrics.values()]
      .map((m) => ({ name: m.name, type: m.type, unit: m.unit, description: m.description, isMonotonic: m.isMonotonic, series: m.series.size }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * One metric ready to draw: counters as rates per second, gauges and up-down sums as values, histograms as
   * p50/p95/p99 per export interval plus the bucket counts over the stored window. `seriesId` picks one time
   * series; without it every series is drawn (histograms: merged).
   */
  getMetric(name: string, seriesId?: number) {
    const m = this.metrics.get(name);
    if (m === undefined) return undefined;
    const all = [...m.series.values()];
    const chosen = seriesId === undefined ? all : all.filter((s) => s.id === seriesId);
    const head = { name: m.name, type: m.type, unit: m.unit, description: m.description, isMonotonic: m.isMonotonic, series: all.map((s) => ({ id: s.id, attributes: s.attributes })) };
    if (m.type === 'Histogram') return { ...head, ...histogramChart(chosen, m.temporality) };
    const rate = m.type === 'Sum' && m.isMonotonic;
    const times = [...new Set(chosen.flatMap((s) => s.points.map((p) => p.t)))].sort((a, b) => a - b);
    const lines = chosen.slice(0, 20).map((s) => {
      const byTime = new Map<number, number | null>();
      s.points.forEach((p, i) => {
        if (!rate) return void byTime.set(p.t, p.value ?? 0);
        const prev = s.points[i - 1];
        if (m.temporality === 1) return void byTime.set(p.t, prev ? (p.value ?? 0) / Math.max(p.t - prev.t, 1e-3) : null);
        // Cumulative: the rate between two exports; a drop means the counter restarted.
        if (prev === undefined || (p.value ?? 0) < (prev.value ?? 0)) return void byTime.set(p.t, null);
        byTime.set(p.t, ((p.value ?? 0) - (prev.value ?? 0)) / Math.max(p.t - prev.t, 1e-3));
      });
      return { label: attributeLabel(s.attributes), values: times.map((t) => byTime.get(t) ?? null) };
    });
    return { ...head, chart: { kind: rate ? 'rate' : 'value', t: times, lines } };
  }
}

function rootOf(t: Trace): ReceivedSpan {
  const ids = new Set(t.spans.map((s) => s.spanId));
  return t.spans.find((s) => s.parentSpanId === '' || !ids.has(s.parentSpanId)) ?? t.spans[0]!;
}

function attributeKey(a: Attrs): string {
  return JSON.stringify(Object.keys(a).sort().map((k) => [k, a[k]]));
}

export function attributeLabel(a: Attrs): string {
  const keys = Object.keys(a).sort();
  return keys.length === 0 ? '(no attributes)' : keys.map((k) => `${k}=${text(a[k]!)}`).join(', ');
}

/** The value below which fraction q of the observations fall, interpolated linearly inside the bucket. */
export function quantile(q: number, counts: number[], bounds: number[]): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (seen + c >= rank && c > 0) {
      const lo = i === 0 ? Math.min(0, bounds[0] ?? 0) : bounds[i - 1]!;
      // The overflow bucket has no upper bound: report its lower bound.
      const hi = i < bounds.length ? bounds[i]! : lo;
      return lo + (hi - lo) * ((rank - seen) / c);
    }
    seen += c;
  }
  return bounds[bounds.length - 1] ?? null;
}

function histogramChart(series: Series[], temporality: number) {
  // Per export time: the bucket counts observed in that interval, summed over the chosen series.
  const intervals = new Map<number, number[]>();
  let bounds: number[] = [];
  const window: number[] = [];
  for (const s of series) {
    s.points.forEach((p, i) => {
      const counts = p.bucketCounts ?? [];
      if (bounds.length === 0 && (p.bounds?.length ?? 0) > 0) bounds = p.bounds!;
      if (p.bounds?.length !== bounds.length) return; // another layout: not mergeable with the first one
      let delta = counts;
      if (temporality !== 1) {
        const prev = s.points[i - 1];
        if (prev === undefined || (prev.count ?? 0) > (p.count ?? 0)) return; // first point or restart
        delta = counts.map((c, j) => c - (prev.bucketCounts?.[j] ?? 0));
      }
      const acc = intervals.get(p.t) ?? new Array<number>(counts.length).fill(0);
      delta.forEach((c, j) => (acc[j] = (acc[j] ?? 0) + c));
      intervals.set(p.t, acc);
      delta.forEach((c, j) => (window[j] = (window[j] ?? 0) + c));
    });
    // The first cumulative point holds everything before it: count it in the window too.
    const first = s.points[0];
    if (temporality !== 1 && first && first.bounds?.length === bounds.length) (first.bucketCounts ?? []).forEach((c, j) => (window[j] = (window[j] ?? 0) + c));
  }
  const t = [...intervals.keys()].sort((a, b) => a - b);
  const lines = [0.5, 0.95, 0.99].map((q) => ({ label: `p${Math.round(q * 100)}`, values: t.map((x) => quantile(q, intervals.get(x)!, bounds)) }));
  return { chart: { kind: 'quantiles', t, lines }, buckets: { bounds, counts: window } };
}
