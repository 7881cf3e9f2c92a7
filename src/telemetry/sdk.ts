// Builds what the export plan says (plan.ts): the SDK with its processors, reader and exporters, the fast paths
// the plan chose, the logger, the span starter and the instruments the service is handed. Nothing here decides a path.
import { randomUUID } from 'node:crypto';
import { context, metrics, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { defaultResource, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ConsoleSpanExporter,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { AggregationTemporality, ConsoleMetricExporter, InstrumentType, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { ConsoleLogRecordExporter, type LogRecordExporter, type LogRecordProcessor } from '@opentelemetry/sdk-logs';
import { OTLPTraceExporter as TraceGrpc } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as TraceProto } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as TraceJson } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPMetricExporter as MetricGrpc } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as MetricProto } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPMetricExporter as MetricJson } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPLogExporter as LogGrpc } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as LogProto } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPLogExporter as LogJson } from '@opentelemetry/exporter-logs-otlp-http';
import { RuntimeNodeInstrumentation } from '@opentelemetry/instrumentation-runtime-node';
import type { Logger } from 'pino';
import type { Config, SignalConfig } from '../shared/config.ts';
import { NO_EXPORT, type ExportStatus, type Warn } from './accounting.ts';
import { createInstruments, SCOPE, tracerSpans, type Instruments, type SpanStarter } from './catalogue.ts';
import { directSpans } from './direct-spans.ts';
import { EagerLogRecordProcessor, EagerSpanProcessor, grpcTransport, httpTransport, type EagerOptions } from './eager-export.ts';
import { CountingMetricExporter, ShardedLogRecordProcessor, ShardedSpanProcessor } from './export-pipeline.ts';
import { HistogramProducer } from './histograms.ts';
import { createLogger } from './logger.ts';
import { PrometheusEndpoint } from './prometheus.ts';
import type { ExportPlan, SignalName, SignalPlan } from './plan.ts';

/** Where one signal goes, for /health. */
export interface SignalRoute {
  readonly exporter: SignalPlan['exporter'];
  readonly protocol: string | null;
  readonly endpoint: string;
  readonly path: SignalPlan['path'];
  /** Metrics only: the /metrics URL Prometheus scrapes, when OTEL_METRICS_EXPORTER lists prometheus. */
  readonly prometheus?: string;
}

/** What the bootstrap reports about itself, for /health and the shutdown summary. */
export interface TelemetryStatus {
  readonly tracingEnabled: boolean;
  readonly metricsEnabled: boolean;
  readonly logsEnabled: boolean;
  /** Where each signal really goes (per-signal endpoints and exporters included). */
  readonly routes: Readonly<Record<SignalName, SignalRoute>>;
  /** Export counters (exported, failed, queued, dropped per signal), read at each /health call. */
  stats(): Record<string, number>;
}

/** Everything the service is handed: it never reaches the SDK itself. */
export interface Telemetry {
  readonly plan: ExportPlan;
  readonly logger: Logger;
  readonly spans: SpanStarter;
  readonly instruments: Instruments;
  readonly status: TelemetryStatus;
  /** Resolves when /metrics listens (at once without it), with its URL; rejects when it cannot listen. */
  readonly ready: Promise<string | undefined>;
  /** Flushes and stops the SDK; every item ends exported, failed or dropped. Logs the outcome. Safe to call twice. */
  shutdown(): Promise<void>;
}

function sampler(t: Config['telemetry']): Sampler {
  const ratio = new TraceIdRatioBasedSampler(t.samplerRatio);
  switch (t.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio;
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio });
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

type Kinds<T> = { grpc: new (c: object) => T; proto: new (c: object) => T; json: new (c: object) => T };
function otlpExporter<T>(signal: SignalConfig, kinds: Kinds<T>): T {
  const options = { url: signal.url, timeoutMillis: signal.timeoutMs };
  if (signal.protocol === 'grpc') return new kinds.grpc(options);
  return signal.protocol === 'http/protobuf' ? new kinds.proto(options) : new kinds.json(options);
}

/**
 * Node.js runtime metrics, without v8js.gc.duration unless GC_METRICS=true: its collector observes every garbage
 * collection (docs/PERFORMANCE.md says what that costs). The instrumentation's configuration has no per-collector
 * switch, so that one collector is disabled through its private `_collectors` list; should the list go, the GC
 * metric is simply exported.
 */
class RuntimeMetrics extends RuntimeNodeInstrumentation {
  private readonly gc: boolean;
  constructor(gc: boolean) {
    super();
    this.gc = gc;
    this.dropGc();
  }
  override enable(): void {
    super.enable();
    this.dropGc();
  }
  private dropGc(): void {
    if (this.gc) return;
    const collectors = (this as unknown as { _collectors?: { constructor: { name: string }; internalDisable(): void }[] })._collectors;
    for (const c of collectors ?? []) if (c.constructor.name === 'GCCollector') c.internalDisable();
  }
}

const route = (p: SignalPlan): SignalRoute => ({ exporter: p.exporter, protocol: p.protocol ?? null, endpoint: p.destination, path: p.path });

/** Starts the SDK as `plan` says and returns what the service is handed. */
export function startTelemetry(config: Config, plan: ExportPlan): Telemetry {
  const t = config.telemetry;
  // Export-failure warnings go through the logger, made once the SDK has started; outside any request context.
  let logger: Logger | undefined;
  const warn: Warn = (msg, err) => context.with(ROOT_CONTEXT, () => logger?.warn({ err: err instanceof Error ? err.message : String(err) }, msg));

  const eagerOptions = (signal: SignalConfig, batch: Config['telemetry']['batch']): EagerOptions => ({
    batch,
    concurrency: t.exportConcurrency,
    timeoutMs: signal.timeoutMs,
    retryMs: t.exportRetryMs,
    // Half of SHUTDOWN_TIMEOUT_MS (the other half is for draining HTTP), at most one export timeout: past it the
    // sends still running are cancelled and counted as failed, so the process exits 0 with its books balanced.
    shutdownMs: Math.min(signal.timeoutMs, config.shutdown.timeoutMs / 2),
    warn,
  });
  const transport = (name: 'traces' | 'logs', signal: SignalConfig) =>
    signal.protocol === 'grpc' ? grpcTransport(name, signal.url) : httpTransport(name, signal.url);

  let spans: (SpanProcessor & { status(): ExportStatus }) | undefined;
  let eagerSpans: EagerSpanProcessor | undefined;
  if (plan.traces.path === 'eager') spans = eagerSpans = new EagerSpanProcessor(transport('traces', t.traces), eagerOptions(t.traces, t.batch));
  else if (plan.traces.path === 'sdk') {
    const exporter: SpanExporter = plan.traces.exporter === 'console' ? new ConsoleSpanExporter() : otlpExporter<SpanExporter>(t.traces, { grpc: TraceGrpc, proto: TraceProto, json: TraceJson });
    spans = new ShardedSpanProcessor(exporter, t.batch, t.exportConcurrency, warn);
  }

  let logRecords: (LogRecordProcessor & { status(): ExportStatus }) | undefined;
  if (plan.logs.path === 'eager') logRecords = new EagerLogRecordProcessor(transport('logs', t.logs), eagerOptions(t.logs, t.logBatch));
  else if (plan.logs.path === 'sdk') {
    const exporter: LogRecordExporter = plan.logs.exporter === 'console' ? new ConsoleLogRecordExporter() : otlpExporter<LogRecordExporter>(t.logs, { grpc: LogGrpc, proto: LogProto, json: LogJson });
    logRecords = new ShardedLogRecordProcessor(exporter, t.logBatch, t.exportConcurrency, warn);
  }

  let resource: Resource | undefined;
  let metricExporter: CountingMetricExporter | undefined;
  let histograms: HistogramProducer | undefined;
  let prometheus: PrometheusEndpoint | undefined;
  let metricsUrl: Promise<string | undefined> = Promise.resolve(undefined);
  let sdk: NodeSDK | undefined;
  const traceSampler = sampler(t);
  if (!t.disabled) {
    resource = defaultResource().merge(
      resourceFromAttributes({
        ...t.resourceAttributes,
        'service.name': t.serviceName,
        'service.version': config.version,
        'service.instance.id': t.resourceAttributes['service.instance.id'] ?? randomUUID(),
        'deployment.environment.name': t.resourceAttributes['deployment.environment.name'] ?? config.appEnv,
      }),
    );
    let reader: PeriodicExportingMetricReader | undefined;
    if (plan.metrics.path === 'sdk' && plan.metrics.exporter !== 'prometheus') {
      const inner: PushMetricExporter = plan.metrics.exporter === 'console' ? new ConsoleMetricExporter() : otlpExporter<PushMetricExporter>(t.metrics, { grpc: MetricGrpc, proto: MetricProto, json: MetricJson });
      metricExporter = new CountingMetricExporter(inner, warn);
      if (plan.metrics.histograms === 'tables') {
        // The reader's default, as MetricReader's: cumulative.
        const temporality = inner.selectAggregationTemporality?.(InstrumentType.HISTOGRAM) ?? AggregationTemporality.CUMULATIVE;
        histograms = new HistogramProducer(SCOPE, temporality, resource);
      }
      reader = new PeriodicExportingMetricReader({
        exporter: metricExporter,
        exportIntervalMillis: t.metrics.intervalMs,
        exportTimeoutMillis: Math.min(t.metrics.readerTimeoutMs, t.metrics.intervalMs),
        metricProducers: histograms ? [histograms] : [],
      });
    }
    if (t.metrics.prometheus !== undefined) {
      // Cumulative, as Prometheus wants: the tables' producer serves both readers unless the push one asked for
      // delta, and then the plan has the SDK aggregate per reader instead.
      if (plan.metrics.histograms === 'tables') histograms ??= new HistogramProducer(SCOPE, AggregationTemporality.CUMULATIVE, resource);
      prometheus = new PrometheusEndpoint(plan.metrics.histograms === 'tables' && histograms ? [histograms] : []);
      const { host, port } = t.metrics.prometheus;
      metricsUrl = prometheus.listen(host, port);
    }
    sdk = new NodeSDK({
      // Without resource detectors or a serviceName option the SDK gives its providers this very object.
      autoDetectResources: false,
      resource,
      sampler: traceSampler,
      spanProcessors: spans ? [spans] : [],
      metricReaders: [reader, prometheus?.reader].filter((r) => r !== undefined),
      logRecordProcessors: logRecords ? [logRecords] : [],
      instrumentations: (reader || prometheus) && t.runtimeMetrics ? [new RuntimeMetrics(t.gcMetrics)] : [],
    });
    sdk.start();
  }

  const signals = (): [string, ExportStatus][] => [
    ['spans', spans?.status() ?? NO_EXPORT],
    ['metric_points', metricExporter?.status() ?? NO_EXPORT],
    ['log_records', logRecords?.status() ?? NO_EXPORT],
  ];
  const meter = metrics.getMeter(SCOPE.name, SCOPE.version);
  // Spans and log records only: a count of metric points exported would change at every export, so the metrics
  // could never be at rest (the receiver prints what changed); their figures are on /health and failures warned.
  const exportOutcomes = () => signals().filter(([name]) => name !== 'metric_points');
  const instruments = createInstruments(meter, histograms, metricExporter || prometheus ? exportOutcomes : undefined);
  const spanStarter = plan.traces.spans === 'direct' && eagerSpans && resource
    ? directSpans({ emit: eagerSpans.emit, resource, scope: SCOPE }, traceSampler)
    : tracerSpans(trace.getTracer(SCOPE.name, SCOPE.version));
  logger = createLogger({ level: config.logLevel, exportLogs: logRecords !== undefined });

  // `prometheus` only when /metrics is served, so /health stays as it was without it.
  let metricsRoute: SignalRoute = plan.metrics.prometheus === undefined ? route(plan.metrics) : { ...route(plan.metrics), prometheus: plan.metrics.prometheus };
  void metricsUrl.then((url) => (metricsRoute = url === undefined ? metricsRoute : { ...metricsRoute, prometheus: url }), () => {});
  const status: TelemetryStatus = {
    tracingEnabled: spans !== undefined,
    metricsEnabled: metricExporter !== undefined || prometheus !== undefined,
    logsEnabled: logRecords !== undefined,
    routes: {
      traces: route(plan.traces),
      // The URL /metrics really listens on once it does (OTEL_EXPORTER_PROMETHEUS_PORT=0 picks the port).
      get metrics() {
        return metricsRoute;
      },
      logs: route(plan.logs),
    },
    stats: () => {
      const [[, s], [, m], [, l]] = signals();
      return {
        spans_ended: s.ended,
        spans_exported: s.exported,
        spans_export_failed: s.failed,
        spans_queued: s.queued + s.inFlight,
        spans_dropped: s.dropped,
        metric_points_exported: m.exported,
        metric_points_export_failed: m.failed,
        metric_points_in_flight: m.inFlight,
        log_records_emitted: l.ended,
        log_records_exported: l.exported,
        log_records_export_failed: l.failed,
        log_records_queued: l.queued + l.inFlight,
        log_records_dropped: l.dropped,
      };
    },
  };

  return {
    plan,
    logger,
    spans: spanStarter,
    instruments,
    status,
    ready: metricsUrl,
    shutdown: async () => {
      const s = sdk;
      sdk = undefined;
      if (s === undefined) return;
      try {
        await s.shutdown();
      } catch (err) {
        warn('Telemetry flush on shutdown failed', err);
      }
      await prometheus?.close();
      // Honest about the outcome: "flushed" only when nothing failed or was dropped.
      const lost = signals().filter(([, st]) => st.failed + st.dropped + st.queued + st.inFlight > 0);
      const summary = Object.fromEntries(signals().map(([name, st]) => [name, { exported: st.exported, failed: st.failed, dropped: st.dropped }]));
      if (lost.length === 0) logger!.info({ telemetry: summary }, 'Telemetry flushed: everything exported');
      else logger!.warn({ telemetry: summary }, `Telemetry not fully delivered: ${lost.map(([name]) => name).join(', ')} failed or dropped`);
    },
  };
}
