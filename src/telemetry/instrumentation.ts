// The OpenTelemetry SDK bootstrap, loaded before the app with `node --max-semi-space-size=8 --import ./dist/telemetry/instrumentation.js` (`npm start`).
// It parses the configuration (exiting with one line naming the variable on a bad value), starts the SDK with
// exporters built from the OTEL_* variables, and creates the logger. main.ts imports what it exports (the same
// module instance), and orders the shutdown: drain HTTP first, then flush telemetry, so no answered span is lost.
import { randomUUID } from 'node:crypto';
import { context, metrics, ROOT_CONTEXT, ValueType } from '@opentelemetry/api';
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
import {
  ConsoleMetricExporter,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
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
import type { TelemetryStatus } from '../service/app.ts';
import { ConfigError, loadEnvironment, parseConfig, type Config, type SignalConfig } from '../shared/config.ts';
import { ShardedLogRecordProcessor, ShardedSpanProcessor, type ExportStatus } from './export-pipeline.ts';
import { EagerLogRecordProcessor, EagerSpanProcessor, grpcTransport, httpTransport, type EagerOptions, type Signal } from './eager-export.ts';
import { SCOPE_NAME, SCOPE_VERSION } from './scope.ts';
import { createLogger } from './logger.ts';
import { histogramProducer } from './histograms.ts';
import { directServerSpans, directStageSpans, type StartServerSpan, type StartStageSpan } from './direct-spans.ts';
import packageJson from '../../package.json' with { type: 'json' };

function configOrExit(): Config {
  try {
    return parseConfig(loadEnvironment(), packageJson.version);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`Invalid configuration: ${err.message}\n`);
    process.exit(2);
  }
}

function sampler(config: Config['telemetry']): Sampler {
  const ratio = new TraceIdRatioBasedSampler(config.samplerRatio);
  switch (config.sampler) {
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

function otlpExporter<T>(signal: SignalConfig, timeoutMillis: number, kinds: { grpc: new (c: object) => T; proto: new (c: object) => T; json: new (c: object) => T }): T {
  const options = { url: signal.url, timeoutMillis };
  if (signal.protocol === 'grpc') return new kinds.grpc(options);
  return signal.protocol === 'http/protobuf' ? new kinds.proto(options) : new kinds.json(options);
}

/**
 * Node.js runtime metrics, without v8js.gc.duration unless GC_METRICS=true: the GC collector observes every
 * collection through perf_hooks, which measured about 25 us of CPU per request at saturation (158 -> 132 us per
 * request with `npm run bench -- --variants full`). The instrumentation has no option for it, so that one
 * collector's observer is disconnected after construction and after any enable(). (Its collectors share one
 * config object, so the collector's own disable() would switch them all off.)
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

export const config = configOrExit();
const t = config.telemetry;
const tracingEnabled = !t.disabled && t.traces.exporter !== 'none';
const metricsEnabled = !t.disabled && t.metrics.exporter !== 'none';
const logsEnabled = !t.disabled && t.logs.exporter !== 'none';

// Export-failure warnings go through the logger, which exists only once the SDK has started.
let warnLogger: Logger | undefined;
// Logged outside any request context: the export runs in whichever context started the batch timer.
const warn = (msg: string, err: unknown) =>
  context.with(ROOT_CONTEXT, () => warnLogger?.warn({ err: err instanceof Error ? err.message : String(err) }, msg));

let sdk: NodeSDK | undefined;
// One sampler instance for the SDK's Tracer and the direct server spans (direct-spans.ts).
const traceSampler = sampler(t);
let resource: Resource | undefined;
let spans: (SpanProcessor & { status(): ExportStatus }) | undefined;
let logRecords: (LogRecordProcessor & { status(): ExportStatus }) | undefined;
/** The export path a signal takes (logged at start-up), with the reason when EXPORT_PIPELINE=eager is not honoured. */
function exportPath(signal: SignalConfig): string {
  if (t.exportPipeline === 'sdk' || signal.exporter !== 'otlp') return 'sdk';
  if (signal.protocol === 'http/json') return 'sdk (protocol http/json)';
  if (signal.sdkExporterVariable !== undefined) return `sdk (${signal.sdkExporterVariable} is set)`;
  return 'eager';
}
const eager = (signal: SignalConfig): boolean => exportPath(signal) === 'eager';
const eagerOptions = (batch: Config['telemetry']['batch']): EagerOptions => ({
  batch,
  concurrency: t.exportConcurrency,
  timeoutMs: t.exportTimeoutMs,
  retryMs: t.exportRetryMs,
  // Half of SHUTDOWN_TIMEOUT_MS (the other half is for draining HTTP), at most one export timeout: past it the
  // sends still running are cancelled and counted as failed, so the process exits 0 with its books balanced.
  shutdownMs: Math.min(t.exportTimeoutMs, config.shutdown.timeoutMs / 2),
  warn,
});
const transport = (name: Signal, signal: SignalConfig) =>
  signal.protocol === 'grpc' ? grpcTransport(name, signal.url) : httpTransport(name, signal.url);
if (!t.disabled) {
  // Exporters only for the signals that are on: an OTLP exporter opens its channel when first used, not before.
  const spanExporter = (): SpanExporter =>
    t.traces.exporter === 'console'
      ? new ConsoleSpanExporter()
      : otlpExporter<SpanExporter>(t.traces, t.exportTimeoutMs, { grpc: TraceGrpc, proto: TraceProto, json: TraceJson });
  const metricExporter = (): PushMetricExporter =>
    t.metrics.exporter === 'console'
      ? new ConsoleMetricExporter()
      : otlpExporter<PushMetricExporter>(t.metrics, t.exportTimeoutMs, { grpc: MetricGrpc, proto: MetricProto, json: MetricJson });
  const logExporter = (): LogRecordExporter =>
    t.logs.exporter === 'console'
      ? new ConsoleLogRecordExporter()
      : otlpExporter<LogRecordExporter>(t.logs, t.exportTimeoutMs, { grpc: LogGrpc, proto: LogProto, json: LogJson });
  // The reader, with the producer of the service's histograms when the exporter takes their advised buckets (histograms.ts).
  const metricReader = (exporter: PushMetricExporter, res: Resource) => {
    const histograms = histogramProducer({ name: SCOPE_NAME, version: SCOPE_VERSION }, exporter, res);
    return new PeriodicExportingMetricReader({
      exporter,
      exportIntervalMillis: t.metrics.intervalMs,
      exportTimeoutMillis: Math.min(t.metrics.timeoutMs, t.metrics.intervalMs),
      metricProducers: histograms ? [histograms] : [],
    });
  };
  if (tracingEnabled) {
    spans = eager(t.traces)
      ? new EagerSpanProcessor(transport('traces', t.traces), eagerOptions(t.batch))
      : new ShardedSpanProcessor(spanExporter(), t.batch, t.exportConcurrency, warn);
  }
  if (logsEnabled) {
    logRecords = eager(t.logs)
      ? new EagerLogRecordProcessor(transport('logs', t.logs), eagerOptions(t.logBatch))
      : new ShardedLogRecordProcessor(logExporter(), t.logBatch, t.exportConcurrency, warn);
  }
  resource = defaultResource().merge(
    resourceFromAttributes({
      ...t.resourceAttributes,
      'service.name': t.serviceName,
      'service.version': config.version,
      'service.instance.id': t.resourceAttributes['service.instance.id'] ?? randomUUID(),
      'deployment.environment.name': t.resourceAttributes['deployment.environment.name'] ?? config.appEnv,
    }),
  );
  sdk = new NodeSDK({
    // Without resource detectors or a serviceName option the SDK gives its providers this very object, which the
    // logger's direct path tags its records with.
    autoDetectResources: false,
    resource,
    sampler: traceSampler,
    spanProcessors: spans ? [spans] : [],
    metricReaders: metricsEnabled ? [metricReader(metricExporter(), resource)] : [],
    logRecordProcessors: logRecords ? [logRecords] : [],
    instrumentations: metricsEnabled && t.runtimeMetrics ? [new RuntimeMetrics(t.gcMetrics)] : [],
  });
  sdk.start();
}

const NO_EXPORT: ExportStatus = { ended: 0, exported: 0, failed: 0, inFlight: 0, queued: 0, dropped: 0 };

// Nothing lost silently: what the export pipeline delivered, failed to deliver or dropped, as a metric too.
if (metricsEnabled) {
  metrics
    .getMeter(SCOPE_NAME, SCOPE_VERSION)
    .createObservableCounter('telemetry_export_items_total', {
      description: 'Spans and log records by export outcome: exported, failed (the Collector refused or was unreachable) or dropped (queue full).',
      unit: '{item}',
      valueType: ValueType.INT,
    })
    .addCallback((result) => {
      for (const [signal, processor] of [['spans', spans], ['log_records', logRecords]] as const) {
        if (processor === undefined) continue;
        const st = processor.status();
        for (const outcome of ['exported', 'failed', 'dropped'] as const) result.observe(st[outcome], { signal, outcome });
      }
    });
}

// With the eager log path, lines go straight from the logger to the batcher (LoggerSettings.direct), unless a
// variable only the SDK's Logger honours is set.
const direct = logRecords instanceof EagerLogRecordProcessor && resource !== undefined && t.sdkLoggerVariable === undefined
  ? { emit: logRecords.emit, resource, scope: { name: SCOPE_NAME, version: SCOPE_VERSION } }
  : undefined;
export const logger: Logger = createLogger({ level: config.logLevel, exportLogs: logsEnabled, direct });
warnLogger = logger;

// With the eager span path, the server spans and the model pipeline's stage spans go straight to the batcher too
// (direct-spans.ts), unless a variable only the SDK's Tracer honours is set. Undefined: the app starts them with the
// SDK's tracer.
const spanSink = spans instanceof EagerSpanProcessor && resource !== undefined && t.sdkTracerVariable === undefined
  ? { emit: spans.emit, resource, scope: { name: SCOPE_NAME, version: SCOPE_VERSION } }
  : undefined;
export const stageSpans: StartStageSpan | undefined = spanSink && directStageSpans(spanSink);
export const serverSpans: StartServerSpan | undefined = spanSink && directServerSpans(spanSink, traceSampler);

export const telemetry: TelemetryStatus = {
  tracingEnabled,
  metricsEnabled,
  logsEnabled,
  stats: () => {
    const s = spans?.status() ?? NO_EXPORT;
    const l = logRecords?.status() ?? NO_EXPORT;
    return {
      spans_ended: s.ended,
      spans_exported: s.exported,
      spans_export_failed: s.failed,
      spans_queued: s.queued + s.inFlight,
      spans_dropped: s.dropped,
      log_records_emitted: l.ended,
      log_records_exported: l.exported,
      log_records_export_failed: l.failed,
      log_records_queued: l.queued + l.inFlight,
      log_records_dropped: l.dropped,
    };
  },
};

/** Flushes and stops the SDK (every ended span is exported or counted as failed). Safe to call twice. */
export async function shutdownTelemetry(): Promise<void> {
  const s = sdk;
  sdk = undefined;
  try {
    await s?.shutdown();
  } catch (err) {
    // A Collector that is down at exit: what could not be sent is in spans_export_failed; exit cleanly anyway.
    warn('Telemetry flush on shutdown failed', err);
  }
}

// What the guide's Step 11 shows at start-up.
logger.info(t.disabled ? 'OpenTelemetry SDK disabled (OTEL_SDK_DISABLED=true)' : 'OpenTelemetry SDK initialized');
logger.info(`Exporter configured: ${t.traces.exporter} (protocol ${t.traces.protocol})`);
logger.info(`OTLP endpoint: ${t.collectorEndpoint}`);
if (!t.disabled) {
  const logPath = exportPath(t.logs) === 'eager' && direct === undefined ? `eager (through the SDK's Logger: ${t.sdkLoggerVariable} is set)` : exportPath(t.logs);
  const spanPath = exportPath(t.traces) === 'eager' && stageSpans === undefined ? `eager (through the SDK's Tracer: ${t.sdkTracerVariable} is set)` : exportPath(t.traces);
  const parts = [tracingEnabled && `spans ${spanPath}`, logsEnabled && `log records ${logPath}`].filter(Boolean);
  if (parts.length > 0) logger.info(`Export pipeline: ${parts.join(', ')}`);
}
logger.info(`Service name: ${t.serviceName}`);
logger.info(`Tracing enabled: ${tracingEnabled ? 'True' : 'False'}`);
logger.info(`Metrics enabled: ${metricsEnabled ? 'True' : 'False'}`);
logger.info(`Logs exported: ${logsEnabled ? 'True' : 'False'}`);
