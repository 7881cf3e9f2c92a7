// The OpenTelemetry SDK bootstrap, loaded before the app with `node --import ./dist/instrumentation.js`.
// It parses the configuration (exiting with one line naming the variable on a bad value), starts the SDK with
// exporters built from the OTEL_* variables, and creates the logger. main.ts imports what it exports (the same
// module instance), and orders the shutdown: drain HTTP first, then flush telemetry, so no answered span is lost.
import { randomUUID } from 'node:crypto';
import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type ReadableSpan,
  type Sampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import {
  ConsoleMetricExporter,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import { BatchLogRecordProcessor, ConsoleLogRecordExporter, type LogRecordExporter } from '@opentelemetry/sdk-logs';
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
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { Logger } from 'pino';
import type { TelemetryStatus } from './app.ts';
import { ConfigError, loadEnvironment, parseConfig, type Config, type SignalConfig } from './config.ts';
import { createLogger } from './logger.ts';
import packageJson from '../package.json' with { type: 'json' };

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

/** Counts what the exporter delivered and reports failures at most once per interval, never per span. */
class SpanExportCounter implements SpanExporter {
  exported = 0;
  failed = 0;
  ended = 0;
  private lastWarning = 0;
  private readonly inner: SpanExporter;
  private readonly warn: (msg: string, err: unknown) => void;
  constructor(inner: SpanExporter, warn: (msg: string, err: unknown) => void) {
    this.inner = inner;
    this.warn = warn;
  }
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      if (result.code === ExportResultCode.SUCCESS) this.exported += spans.length;
      else {
        this.failed += spans.length;
        const now = Date.now();
        if (now - this.lastWarning > 10_000) {
          this.lastWarning = now;
          this.warn(`OTLP span export failed (${this.failed} spans failed so far); requests are still served`, result.error);
        }
      }
      done(result);
    });
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

/** Counts sampled spans handed to the batch processor, so queue overflow shows as ended - exported - failed. */
class CountingBatchSpanProcessor extends BatchSpanProcessor {
  private readonly counter: SpanExportCounter;
  constructor(counter: SpanExportCounter, config: Config['telemetry']['batch']) {
    super({
      exporter: counter,
      scheduledDelayMillis: config.scheduleDelayMs,
      exportTimeoutMillis: config.exportTimeoutMs,
      maxQueueSize: config.maxQueueSize,
      maxExportBatchSize: config.maxExportBatchSize,
    });
    this.counter = counter;
  }
  override onEnd(span: ReadableSpan): void {
    if (span.spanContext().traceFlags & 1) this.counter.ended++;
    super.onEnd(span);
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

const spanCounter = new SpanExportCounter(
  t.traces.exporter === 'console'
    ? new ConsoleSpanExporter()
    : otlpExporter<SpanExporter>(t.traces, t.exportTimeoutMs, { grpc: TraceGrpc, proto: TraceProto, json: TraceJson }),
  warn,
);

let sdk: NodeSDK | undefined;
if (!t.disabled) {
  const metricExporter: PushMetricExporter =
    t.metrics.exporter === 'console'
      ? new ConsoleMetricExporter()
      : otlpExporter<PushMetricExporter>(t.metrics, t.exportTimeoutMs, { grpc: MetricGrpc, proto: MetricProto, json: MetricJson });
  const logExporter: LogRecordExporter =
    t.logs.exporter === 'console'
      ? new ConsoleLogRecordExporter()
      : otlpExporter<LogRecordExporter>(t.logs, t.exportTimeoutMs, { grpc: LogGrpc, proto: LogProto, json: LogJson });
  sdk = new NodeSDK({
    autoDetectResources: false,
    resource: defaultResource().merge(
      resourceFromAttributes({
        ...t.resourceAttributes,
        'service.name': t.serviceName,
        'service.version': config.version,
        'service.instance.id': t.resourceAttributes['service.instance.id'] ?? randomUUID(),
        'deployment.environment.name': t.resourceAttributes['deployment.environment.name'] ?? config.appEnv,
      }),
    ),
    sampler: sampler(t),
    spanProcessors: tracingEnabled ? [new CountingBatchSpanProcessor(spanCounter, t.batch)] : [],
    metricReaders: metricsEnabled
      ? [
          new PeriodicExportingMetricReader({
            exporter: metricExporter,
            exportIntervalMillis: t.metrics.intervalMs,
            exportTimeoutMillis: Math.min(t.metrics.timeoutMs, t.metrics.intervalMs),
          }),
        ]
      : [],
    logRecordProcessors: logsEnabled
      ? [
          new BatchLogRecordProcessor({
            exporter: logExporter,
            scheduledDelayMillis: t.logBatch.scheduleDelayMs,
            exportTimeoutMillis: t.logBatch.exportTimeoutMs,
            maxQueueSize: t.logBatch.maxQueueSize,
            maxExportBatchSize: t.logBatch.maxExportBatchSize,
          }),
        ]
      : [],
    instrumentations: metricsEnabled ? [new RuntimeNodeInstrumentation()] : [],
  });
  sdk.start();
}

export const logger: Logger = createLogger({ level: config.logLevel, exportLogs: logsEnabled });
warnLogger = logger;

export const telemetry: TelemetryStatus = {
  tracingEnabled,
  metricsEnabled,
  logsEnabled,
  stats: () => ({
    spans_ended: spanCounter.ended,
    spans_exported: spanCounter.exported,
    spans_export_failed: spanCounter.failed,
    spans_queued_or_dropped: spanCounter.ended - spanCounter.exported - spanCounter.failed,
  }),
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
logger.info(`Service name: ${t.serviceName}`);
logger.info(`Tracing enabled: ${tracingEnabled ? 'True' : 'False'}`);
logger.info(`Metrics enabled: ${metricsEnabled ? 'True' : 'False'}`);
logger.info(`Logs exported: ${logsEnabled ? 'True' : 'False'}`);
