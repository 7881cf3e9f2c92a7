// The export plan: the one place that decides, from the configuration, how each signal leaves the process and
// which hand-built fast path runs, with the reason for every choice. The bootstrap builds exactly what the plan
// says; the start-up log and /health print it. Pure: the same configuration always gives the same plan.
//
// The fast paths (docs/PERFORMANCE.md says what each saves and what it does not honour):
// - eager export: spans and log records encoded to OTLP protobuf as they end, sent as ready-made batches;
// - direct spans: the server and model spans built without the SDK's Tracer (needs eager span export);
// - histogram tables: the two histograms aggregated by series key, handed to the SDK's metric reader.
// Each falls back to the SDK where a variable asks for something only the SDK implements.
import type { Config, OtlpProtocol, SignalConfig } from '../shared/config.ts';

export type SignalName = 'traces' | 'metrics' | 'logs';

export interface SignalPlan {
  /** otlp, console, none; prometheus (metrics only, when it is the only one); off when OTEL_SDK_DISABLED=true. */
  readonly exporter: 'otlp' | 'console' | 'prometheus' | 'none' | 'off';
  /** Where the signal goes: the exporter's URL, stdout, or nowhere. */
  readonly destination: string;
  readonly protocol: OtlpProtocol | undefined;
  /** Each export attempt, ms. */
  readonly timeoutMs: number;
  /** eager: our batcher and encoder; sdk: the SDK's processor or reader and its exporter; none: not exported. */
  readonly path: 'eager' | 'sdk' | 'none';
  readonly why: string;
}

export interface ExportPlan {
  readonly traces: SignalPlan & {
    /** direct: server and model spans built without the SDK's Tracer; sdk: through it. */
    readonly spans: 'direct' | 'sdk';
    readonly spansWhy: string;
  };
  readonly metrics: SignalPlan & {
    /** The /metrics URL Prometheus scrapes (OTEL_METRICS_EXPORTER lists prometheus), beside any push exporter. */
    readonly prometheus: string | undefined;
    /** tables: the histograms aggregated by series key (histograms.ts); sdk: the SDK's Histogram. */
    readonly histograms: 'tables' | 'sdk';
    readonly histogramsWhy: string;
  };
  readonly logs: SignalPlan;
}

function signalPlan(t: Config['telemetry'], name: SignalName, s: SignalConfig): SignalPlan {
  const common = { protocol: s.exporter === 'otlp' ? s.protocol : undefined, timeoutMs: s.timeoutMs };
  if (t.disabled) return { ...common, exporter: 'off', destination: 'nowhere', path: 'none', why: 'OTEL_SDK_DISABLED=true' };
  const variable = `OTEL_${name.toUpperCase()}_EXPORTER`;
  if (s.exporter === 'none') return { ...common, exporter: 'none', destination: 'nowhere', path: 'none', why: `${variable}=none` };
  if (s.exporter === 'console') return { ...common, exporter: 'console', destination: 'stdout', path: 'sdk', why: `${variable}=console (the SDK's console exporter)` };
  const otlp = { ...common, exporter: 'otlp' as const, destination: s.url };
  // Metrics are few (one collection every OTEL_METRIC_EXPORT_INTERVAL): the SDK's reader and exporter serve them.
  if (name === 'metrics') return { ...otlp, path: 'sdk', why: "the SDK's periodic reader and OTLP exporter" };
  if (t.exportPipeline === 'sdk') return { ...otlp, path: 'sdk', why: 'EXPORT_PIPELINE=sdk' };
  if (s.protocol === 'http/json') return { ...otlp, path: 'sdk', why: 'protocol http/json (the eager path encodes protobuf only)' };
  if (s.sdkExporterVariable !== undefined) return { ...otlp, path: 'sdk', why: `${s.sdkExporterVariable} is set (only the SDK's exporter implements it)` };
  return { ...otlp, path: 'eager', why: `encoded as they end, sent over ${s.protocol === 'grpc' ? 'gRPC' : 'HTTP'} in batches` };
}

/** How the service exports, decided once from `config` (see the top of this file). */
export function planExport(config: Config): ExportPlan {
  const t = config.telemetry;
  const traces = signalPlan(t, 'traces', t.traces);
  const pull = t.disabled ? undefined : t.metrics.prometheus;
  const prometheus = pull && `http://${pull.host.includes(':') ? `[${pull.host}]` : pull.host}:${pull.port}/metrics`;
  let metrics = signalPlan(t, 'metrics', t.metrics);
  if (prometheus !== undefined && metrics.path === 'none') {
    metrics = { ...metrics, exporter: 'prometheus', destination: prometheus, path: 'sdk', why: 'OTEL_METRICS_EXPORTER=prometheus (the SDK\'s reader, read at each scrape)' };
  }
  const logs = signalPlan(t, 'logs', t.logs);

  let spans: { spans: 'direct' | 'sdk'; spansWhy: string };
  if (traces.path !== 'eager') spans = { spans: 'sdk', spansWhy: traces.path === 'none' ? 'no spans are exported' : 'span export takes the SDK path' };
  else if (t.sdkTracerVariable !== undefined) spans = { spans: 'sdk', spansWhy: `${t.sdkTracerVariable} is set (only the SDK's Tracer implements it)` };
  else spans = { spans: 'direct', spansWhy: "server and model spans built without the SDK's Tracer" };

  let histograms: { histograms: 'tables' | 'sdk'; histogramsWhy: string };
  const aggregation = t.metrics.histogramAggregation?.toLowerCase();
  if (metrics.path === 'none') histograms = { histograms: 'sdk', histogramsWhy: 'no metrics are exported' };
  else if (aggregation !== undefined && aggregation !== 'explicit_bucket_histogram') {
    histograms = { histograms: 'sdk', histogramsWhy: `OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION=${aggregation} (only the SDK aggregates it)` };
  } else if (prometheus !== undefined && metrics.exporter !== 'prometheus' && ['delta', 'lowmemory'].includes(t.metrics.temporalityPreference ?? '')) {
    // The tables keep one temporality; Prometheus needs cumulative, the push exporter asked for delta.
    histograms = { histograms: 'sdk', histogramsWhy: `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=${t.metrics.temporalityPreference} beside Prometheus' cumulative (the SDK keeps one aggregation per reader)` };
  } else histograms = { histograms: 'tables', histogramsWhy: 'histograms aggregated by series key, explicit buckets' };

  return { traces: { ...traces, ...spans }, metrics: { ...metrics, prometheus, ...histograms }, logs };
}

/** One line per signal for the start-up log: where it goes, by which path, and why. */
export function describePlan(plan: ExportPlan): string[] {
  const line = (name: SignalName, p: SignalPlan, extra?: string) => {
    if (p.path === 'none') return `${name}: not exported (${p.why})`;
    const how = p.exporter === 'otlp' ? `otlp ${p.protocol} to ${p.destination}` : `${p.exporter} to ${p.destination}`;
    return `${name}: ${how}, ${p.path} path (${p.why})${extra ? `; ${extra}` : ''}`;
  };
  return [
    line('traces', plan.traces, `spans ${plan.traces.spans} (${plan.traces.spansWhy})`),
    line(
      'metrics',
      plan.metrics,
      `histograms ${plan.metrics.histograms} (${plan.metrics.histogramsWhy})` +
        (plan.metrics.prometheus !== undefined && plan.metrics.exporter !== 'prometheus' ? `; also prometheus at ${plan.metrics.prometheus}` : ''),
    ),
    line('logs', plan.logs),
  ];
}
