// Configuration: every variable the service reads, parsed once from the environment (and `.env`), validated,
// frozen, and passed down. Nothing else in the service reads `process.env`.
// The table below is also the README's configuration table (a test keeps the two equal).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';

export const OTLP_PROTOCOLS = ['grpc', 'http/protobuf', 'http/json'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];
export const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export type SamplerName = (typeof SAMPLERS)[number];
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const SIGNAL_EXPORTERS = ['otlp', 'console', 'none'] as const;
export type SignalExporter = (typeof SIGNAL_EXPORTERS)[number];

/** OTEL_METRICS_EXPORTER: the push exporter (otlp, console or none) and whether /metrics is served for Prometheus. */
export interface MetricsExporters {
  readonly push: SignalExporter;
  readonly prometheus: boolean;
}
// The specification's comma-separated list; one push exporter at most (the export plan has one per signal).
const metricsExporters: Parser<MetricsExporters> = (raw, name) => {
  const values = raw.split(',').map((s) => s.trim().toLowerCase());
  const allowed = 'a comma-separated list of otlp, prometheus, console, or none alone (at most one of otlp and console)';
  if (values.some((v) => !['otlp', 'prometheus', 'console', 'none'].includes(v))) throw new ConfigError(name, raw, allowed);
  const push = values.filter((v) => v === 'otlp' || v === 'console');
  if (push.length > 1 || (values.includes('none') && values.length > 1)) throw new ConfigError(name, raw, allowed);
  return { push: (push[0] as SignalExporter | undefined) ?? 'none', prometheus: values.includes('prometheus') };
};

export class ConfigError extends Error {
  constructor(variable: string, value: string, allowed: string) {
    super(`${variable}=${JSON.stringify(value)} is not allowed: expected ${allowed}`);
    this.name = 'ConfigError';
  }
}

type Parser<T> = (raw: string, name: string) => T;

const integer =
  (min: number, max: number): Parser<number> =>
  (raw, name) => {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
      throw new ConfigError(name, raw, `an integer from ${min} to ${max}`);
    }
    return n;
  };

const finite =
  (min: number): Parser<number> =>
  (raw, name) => {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || n < min) {
      throw new ConfigError(name, raw, `a number >= ${min}`);
    }
    return n;
  };

const oneOf =
  <T extends string>(values: readonly T[]): Parser<T> =>
  (raw, name) => {
    const v = raw.trim().toLowerCase() as T;
    if (!values.includes(v)) throw new ConfigError(name, raw, `one of ${values.join(', ')}`);
    return v;
  };

const bool: Parser<boolean> = (raw, name) => {
  const v = raw.trim().toLowerCase();
  if (v === 'true') return true;
  if (v === 'false' || v === '') return false;
  throw new ConfigError(name, raw, 'true or false');
};

const text: Parser<string> = (raw, name) => {
  if (raw.trim() === '') throw new ConfigError(name, raw, 'a non-empty string');
  return raw.trim();
};

const url: Parser<string> = (raw, name) => {
  try {
    const u = new URL(raw.trim());
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
    return raw.trim();
  } catch {
    throw new ConfigError(name, raw, 'an http:// or https:// URL');
  }
};

const numberList: Parser<number[]> = (raw, name) => {
  const parts = raw.split(',').map((s) => s.trim());
  const values = parts.map(Number);
  if (parts.some((p) => p === '') || values.some((n) => !Number.isFinite(n))) {
    throw new ConfigError(name, raw, 'a comma-separated list of finite numbers, e.g. 1,1,1');
  }
  return values;
};

// `key=value,key2=value2` as the OpenTelemetry specification defines OTEL_RESOURCE_ATTRIBUTES (values percent-encoded).
const keyValues: Parser<Record<string, string>> = (raw, name) => {
  const out: Record<string, string> = {};
  for (const pair of raw.split(',')) {
    if (pair.trim() === '') continue;
    const eq = pair.indexOf('=');
    const key = eq > 0 ? pair.slice(0, eq).trim() : '';
    if (key === '') throw new ConfigError(name, raw, 'comma-separated key=value pairs');
    try {
      out[key] = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      throw new ConfigError(name, raw, 'percent-encoded values');
    }
  }
  return out;
};

interface Variable<T> {
  readonly name: string;
  readonly default: string;
  readonly doc: string;
  readonly parse: Parser<T>;
}
const v = <T>(name: string, def: string, doc: string, parse: Parser<T>): Variable<T> => ({
  name,
  default: def,
  doc,
  parse,
});

// Defaults sit here, with their units. An empty default means "unset".
export const VARIABLES = {
  APP_ENV: v('APP_ENV', 'local', 'Environment name shown by /health (local, dev, staging, prod).', text),
  API_HOST: v('API_HOST', '127.0.0.1', 'Address the HTTP server binds (the container sets 0.0.0.0).', text),
  API_PORT: v('API_PORT', '9000', 'HTTP port of the service (0 picks a free port).', integer(0, 65535)),
  DEFAULT_LATENCY_MS: v('DEFAULT_LATENCY_MS', '100', 'Simulated model latency, ms (0 disables it).', finite(0)),
  LATENCY_JITTER_MS: v('LATENCY_JITTER_MS', '', 'Jitter added to the simulated latency, ms, uniform in [-j/2, +j]; default 10 % of DEFAULT_LATENCY_MS.', finite(0)),
  MAX_BATCH_SIZE: v('MAX_BATCH_SIZE', '32', 'Most rows in one executed batch of the dynamic batcher (Triton\'s max_batch_size; 1 turns batching off), and so the most rows accepted by POST /predict/batch.', integer(1, 100_000)),
  MAX_QUEUE_DELAY_US: v('MAX_QUEUE_DELAY_US', '0', 'Longest a request waits for its batch to fill while the model has a free instance, microseconds (Triton\'s max_queue_delay_microseconds; 0: a batch starts as soon as an instance is free, with whatever is queued).', integer(0, 10_000_000)),
  MAX_FEATURES: v('MAX_FEATURES', '1024', 'Most features accepted in one row.', integer(1, 1_000_000)),
  MODEL_CONCURRENCY: v('MODEL_CONCURRENCY', '256', 'Batches the model executes at once (Triton\'s instance count); more requests wait in the queue.', integer(1, 1_000_000)),
  MAX_QUEUE: v('MAX_QUEUE', '1024', 'Prediction requests waiting for a batch at most while every instance is busy; beyond, 503 with Retry-After at once.', integer(0, 10_000_000)),
  REQUEST_TIMEOUT_MS: v('REQUEST_TIMEOUT_MS', '30000', 'Longest time to receive a whole request (headers and body), ms; slower clients get 408 and are disconnected (0 disables).', integer(0, 3_600_000)),
  MAX_HEADER_BYTES: v('MAX_HEADER_BYTES', '16384', 'Largest accepted request header block, bytes (larger: 431, closed by Node).', integer(1024, 1024 * 1024)),
  MODEL_REPOSITORY: v('MODEL_REPOSITORY', '', 'Model repository folder, one sub-folder per model: <name>/<version>/model.onnx and an optional <name>/config.json (docs/MODELS.md). Unset (and no MODEL_PATH): the models/ folder shipped with the service.', text),
  MODEL_PATH: v('MODEL_PATH', '', 'One ONNX file to serve as MODEL_NAME instead of a repository (not with MODEL_REPOSITORY).', text),
  MODEL_NAME: v('MODEL_NAME', 'simple-linear-demo', 'Model that /predict serves, returned in responses and telemetry: a model of the repository, or the name of the MODEL_PATH model.', text),
  MODEL_WEIGHTS: v('MODEL_WEIGHTS', '', 'Comma-separated weights w of prediction = w.x + b, written into the MODEL_NAME graph\'s `weights` initialiser at start-up; unset means 1 for every feature (any count). When set, rows must have exactly that many features.', numberList),
  MODEL_BIAS: v('MODEL_BIAS', '0', 'Bias b of the linear model, written into the MODEL_NAME graph\'s `bias` initialiser at start-up when not 0.', finite(-Number.MAX_VALUE)),
  BODY_LIMIT_BYTES: v('BODY_LIMIT_BYTES', String(1024 * 1024), 'Largest accepted request body, bytes (1 MiB); larger gets 413.', integer(64, 1024 * 1024 * 1024)),
  LOG_LEVEL: v('LOG_LEVEL', 'info', 'pino log level (fatal, error, warn, info, debug, trace, silent).', oneOf(LOG_LEVELS)),
  SHUTDOWN_DELAY_MS: v('SHUTDOWN_DELAY_MS', '0', 'On SIGTERM, time readiness reports false before the listener closes, ms (Kubernetes sets 5000 so endpoints drop the pod first).', integer(0, 600_000)),
  SHUTDOWN_TIMEOUT_MS: v('SHUTDOWN_TIMEOUT_MS', '10000', 'Longest wait for in-flight requests and the telemetry flush on shutdown, ms.', integer(100, 600_000)),
  RECEIVER_HOST: v('RECEIVER_HOST', '127.0.0.1', 'Address of the embedded OTLP receiver (started when no OTLP endpoint is configured).', text),
  RECEIVER_GRPC_PORT: v('RECEIVER_GRPC_PORT', '4317', 'Embedded receiver OTLP/gRPC port.', integer(1, 65535)),
  RECEIVER_HTTP_PORT: v('RECEIVER_HTTP_PORT', '4318', 'Embedded receiver OTLP/HTTP port.', integer(1, 65535)),
  RECEIVER_HEALTH_PORT: v('RECEIVER_HEALTH_PORT', '13133', 'Embedded receiver health_check port.', integer(1, 65535)),
  RECEIVER_VERBOSITY: v('RECEIVER_VERBOSITY', 'focused', 'What the embedded receiver prints: focused (spans, logs and the service metrics in detail; runtime metrics one line per scope; unchanged metrics left out), or as the Collector debug exporter: detailed (everything), normal or basic.', oneOf(['focused', 'detailed', 'normal', 'basic'] as const)),
  RECEIVER_CONSOLE: v('RECEIVER_CONSOLE', 'true', 'Serve the web console (traces, metrics, logs) from the embedded receiver.', bool),
  RECEIVER_CONSOLE_HOST: v('RECEIVER_CONSOLE_HOST', '127.0.0.1', 'Address of the console. It shows every attribute and log line received: any non-loopback address logs a warning at start-up.', text),
  RECEIVER_CONSOLE_PORT: v('RECEIVER_CONSOLE_PORT', '4380', 'Console port (0 picks a free port).', integer(0, 65535)),
  RECEIVER_CONSOLE_MAX_TRACES: v('RECEIVER_CONSOLE_MAX_TRACES', '2000', 'Traces the console keeps; the oldest is evicted first.', integer(1, 10_000_000)),
  RECEIVER_CONSOLE_MAX_LOGS: v('RECEIVER_CONSOLE_MAX_LOGS', '20000', 'Log records the console keeps; the oldest is evicted first.', integer(1, 100_000_000)),
  RECEIVER_CONSOLE_MAX_SERIES: v('RECEIVER_CONSOLE_MAX_SERIES', '2000', 'Metric time series (name and attributes) the console keeps; the least recently updated is evicted first.', integer(1, 10_000_000)),
  RECEIVER_CONSOLE_MAX_POINTS: v('RECEIVER_CONSOLE_MAX_POINTS', '720', 'Points kept per metric time series (720 is an hour at the 5 s export interval).', integer(2, 1_000_000)),
  RUNTIME_METRICS: v('RUNTIME_METRICS', 'true', 'Export Node.js runtime metrics (event loop, heap, GC) from @opentelemetry/instrumentation-runtime-node.', bool),
  GC_METRICS: v('GC_METRICS', 'false', 'Also export v8js.gc.duration (observing every garbage collection costs CPU on every request at saturation: docs/PERFORMANCE.md).', bool),
  OTEL_SDK_DISABLED: v('OTEL_SDK_DISABLED', 'false', 'true disables traces, metrics and log export (the API becomes no-op).', bool),
  OTEL_SERVICE_NAME: v('OTEL_SERVICE_NAME', 'ai-inference-service', 'service.name resource attribute.', text),
  OTEL_RESOURCE_ATTRIBUTES: v('OTEL_RESOURCE_ATTRIBUTES', '', 'Extra resource attributes, key=value,key2=value2.', keyValues),
  OTEL_TRACES_EXPORTER: v('OTEL_TRACES_EXPORTER', 'otlp', 'otlp, console or none.', oneOf(SIGNAL_EXPORTERS)),
  OTEL_METRICS_EXPORTER: v('OTEL_METRICS_EXPORTER', 'otlp', 'Comma-separated: otlp, prometheus (serves /metrics for Prometheus to scrape; docs/PROMETHEUS.md), console, or none. otlp,prometheus does both.', metricsExporters),
  OTEL_EXPORTER_PROMETHEUS_HOST: v('OTEL_EXPORTER_PROMETHEUS_HOST', '127.0.0.1', 'Address /metrics listens on with OTEL_METRICS_EXPORTER=prometheus. The specification says localhost; Kubernetes sets 0.0.0.0 so Prometheus can scrape the pod.', text),
  OTEL_EXPORTER_PROMETHEUS_PORT: v('OTEL_EXPORTER_PROMETHEUS_PORT', '9464', 'Port of /metrics (0 picks a free port, printed at start-up).', integer(0, 65535)),
  OTEL_LOGS_EXPORTER: v('OTEL_LOGS_EXPORTER', 'otlp', 'otlp, console or none (logs always go to stdout too).', oneOf(SIGNAL_EXPORTERS)),
  OTEL_EXPORTER_OTLP_ENDPOINT: v('OTEL_EXPORTER_OTLP_ENDPOINT', '', 'Collector base URL, e.g. http://otel-collector:4317. Unset: the embedded receiver is started and used.', url),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: v('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', '', 'Traces URL, used as is (overrides the base endpoint).', url),
  OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: v('OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', '', 'Metrics URL, used as is.', url),
  OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: v('OTEL_EXPORTER_OTLP_LOGS_ENDPOINT', '', 'Logs URL, used as is.', url),
  OTEL_EXPORTER_OTLP_PROTOCOL: v('OTEL_EXPORTER_OTLP_PROTOCOL', 'grpc', 'grpc, http/protobuf or http/json. Our default is grpc on 4317 as in the guide (the SDK alone defaults to http/protobuf on 4318).', oneOf(OTLP_PROTOCOLS)),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: v('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', '', 'Protocol for traces only.', oneOf(OTLP_PROTOCOLS)),
  OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: v('OTEL_EXPORTER_OTLP_METRICS_PROTOCOL', '', 'Protocol for metrics only.', oneOf(OTLP_PROTOCOLS)),
  OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: v('OTEL_EXPORTER_OTLP_LOGS_PROTOCOL', '', 'Protocol for logs only.', oneOf(OTLP_PROTOCOLS)),
  OTEL_EXPORTER_OTLP_TIMEOUT: v('OTEL_EXPORTER_OTLP_TIMEOUT', '10000', 'Export timeout, ms: each export attempt (both pipelines). OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, _METRICS_TIMEOUT and _LOGS_TIMEOUT override it per signal.', integer(1, 600_000)),
  OTEL_TRACES_SAMPLER: v('OTEL_TRACES_SAMPLER', 'parentbased_always_on', SAMPLERS.join(', ') + '.', oneOf(SAMPLERS)),
  OTEL_TRACES_SAMPLER_ARG: v('OTEL_TRACES_SAMPLER_ARG', '', 'Ratio in [0, 1] for the traceidratio samplers (default 1).', finite(0)),
  OTEL_METRIC_EXPORT_INTERVAL: v('OTEL_METRIC_EXPORT_INTERVAL', '5000', 'Metric export interval, ms. The specification says 60000; 5000 lets the guide\'s Test 4 see metrics within seconds.', integer(100, 3_600_000)),
  OTEL_METRIC_EXPORT_TIMEOUT: v('OTEL_METRIC_EXPORT_TIMEOUT', '30000', 'Metric export timeout, ms.', integer(1, 3_600_000)),
  EXPORT_PIPELINE: v('EXPORT_PIPELINE', 'eager', 'eager: spans and log records are encoded to OTLP protobuf as they end and sent in ready-made batches (OTLP gRPC and HTTP/protobuf), and the server and model spans are built without the SDK\'s Tracer; sdk: the SDK\'s batch processors, Tracer and OTLP exporters. The start-up log prints the export plan: which path each signal takes and why (the SDK\'s where a variable only it implements is set).', oneOf(['eager', 'sdk'] as const)),
  EXPORT_CONCURRENCY: v('EXPORT_CONCURRENCY', '2', 'Exports in flight at once per signal (spans, log records); with EXPORT_PIPELINE=sdk, batch processors side by side, each with its share of the queue.', integer(1, 64)),
  EXPORT_RETRY_MS: v('EXPORT_RETRY_MS', '60000', 'EXPORT_PIPELINE=eager: how long a batch is retried (1 s backoff growing to 5 s) while the Collector answers with a retryable error or is unreachable, before it is counted as failed. The queue limits still apply.', integer(0, 3_600_000)),
  OTEL_BSP_SCHEDULE_DELAY: v('OTEL_BSP_SCHEDULE_DELAY', '5000', 'How long a partial batch of spans waits before it is exported, ms.', integer(0, 3_600_000)),
  OTEL_BSP_EXPORT_TIMEOUT: v('OTEL_BSP_EXPORT_TIMEOUT', '30000', 'EXPORT_PIPELINE=sdk: the batch span processor\'s export timeout, ms (eager: each attempt is bounded by OTEL_EXPORTER_OTLP_TIMEOUT).', integer(1, 3_600_000)),
  OTEL_BSP_MAX_QUEUE_SIZE: v('OTEL_BSP_MAX_QUEUE_SIZE', '16384', 'Spans buffered before new ones are dropped (counted on /health). The specification says 2048; a request makes 4 spans, 5 when it waited for its batch, and each model call one more (docs/PERFORMANCE.md).', integer(1, 10_000_000)),
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: v('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', '2048', 'Most spans per export request. The specification says 512; larger batches measured fewer drops and less CPU at saturation.', integer(1, 10_000_000)),
  OTEL_BLRP_SCHEDULE_DELAY: v('OTEL_BLRP_SCHEDULE_DELAY', '1000', 'How long a partial batch of log records waits before it is exported, ms.', integer(0, 3_600_000)),
  OTEL_BLRP_EXPORT_TIMEOUT: v('OTEL_BLRP_EXPORT_TIMEOUT', '30000', 'EXPORT_PIPELINE=sdk: the batch log record processor\'s export timeout, ms (eager: each attempt is bounded by OTEL_EXPORTER_OTLP_TIMEOUT).', integer(1, 3_600_000)),
  OTEL_BLRP_MAX_QUEUE_SIZE: v('OTEL_BLRP_MAX_QUEUE_SIZE', '8192', 'Log records buffered before new ones are dropped (counted on /health). The specification says 2048; a request makes 2.', integer(1, 10_000_000)),
  OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: v('OTEL_BLRP_MAX_EXPORT_BATCH_SIZE', '2048', 'Most log records per export request (the specification says 512).', integer(1, 10_000_000)),
} as const;

export type VariableName = keyof typeof VARIABLES;
export const KNOWN_VARIABLES: readonly string[] = Object.keys(VARIABLES);

export interface BatchConfig {
  readonly scheduleDelayMs: number;
  readonly exportTimeoutMs: number;
  readonly maxQueueSize: number;
  readonly maxExportBatchSize: number;
}

export interface SignalConfig {
  readonly exporter: SignalExporter;
  readonly protocol: OtlpProtocol;
  /** Full URL the exporter sends to (for http protocols, with the /v1/<signal> path). */
  readonly url: string;
  /** Each export attempt, ms: OTEL_EXPORTER_OTLP_<SIGNAL>_TIMEOUT, else OTEL_EXPORTER_OTLP_TIMEOUT. */
  readonly timeoutMs: number;
  /** The first set variable that only the SDK's exporter honours (TLS, headers, compression), if any. */
  readonly sdkExporterVariable: string | undefined;
}

export interface Config {
  readonly appEnv: string;
  readonly version: string;
  readonly host: string;
  readonly port: number;
  readonly bodyLimit: number;
  readonly requestTimeoutMs: number;
  readonly maxHeaderBytes: number;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  readonly model: {
    readonly name: string;
    /** MODEL_PATH, if set. */
    readonly path: string | undefined;
    /** MODEL_REPOSITORY, if set (unset with no MODEL_PATH: the shipped models/ folder). */
    readonly repository: string | undefined;
    readonly weights: readonly number[] | null;
    readonly bias: number;
    readonly latencyMs: number;
    readonly jitterMs: number;
    readonly maxBatchSize: number;
    readonly maxQueueDelayUs: number;
    readonly maxFeatures: number;
    readonly concurrency: number;
    readonly maxQueue: number;
  };
  readonly shutdown: { readonly delayMs: number; readonly timeoutMs: number };
  readonly telemetry: {
    readonly disabled: boolean;
    readonly runtimeMetrics: boolean;
    readonly gcMetrics: boolean;
    readonly serviceName: string;
    readonly resourceAttributes: Readonly<Record<string, string>>;
    /** What /health shows as collector_endpoint: the base endpoint as configured (or the embedded receiver's). */
    readonly collectorEndpoint: string;
    /** True when no endpoint is configured: main starts the embedded receiver. */
    readonly embeddedReceiver: boolean;
    readonly traces: SignalConfig;
    readonly metrics: SignalConfig & {
      /** Where /metrics listens for Prometheus, when OTEL_METRICS_EXPORTER lists prometheus. */
      readonly prometheus: { readonly host: string; readonly port: number } | undefined;
      /** OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE as set (the SDK's OTLP exporter reads it), if set. */
      readonly temporalityPreference: string | undefined;
      readonly intervalMs: number;
      readonly readerTimeoutMs: number;
      /** OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION as set (the SDK's exporter reads it), if set. */
      readonly histogramAggregation: string | undefined;
    };
    readonly logs: SignalConfig;
    readonly sampler: SamplerName;
    readonly samplerRatio: number;
    readonly exportConcurrency: number;
    readonly exportPipeline: 'eager' | 'sdk';
    /** The first set variable that only the SDK's Tracer honours (span limits, SDK metrics), if any. */
    readonly sdkTracerVariable: string | undefined;
    readonly exportRetryMs: number;
    readonly batch: BatchConfig;
    readonly logBatch: BatchConfig;
  };
  readonly receiver: {
    readonly host: string;
    readonly grpcPort: number;
    readonly httpPort: number;
    readonly healthPort: number;
    readonly verbosity: 'focused' | 'detailed' | 'normal' | 'basic';
    readonly console: {
      readonly enabled: boolean;
      readonly host: string;
      readonly port: number;
      readonly limits: { readonly maxTraces: number; readonly maxLogs: number; readonly maxSeries: number; readonly maxPointsPerSeries: number };
    };
  };
}

export type Environment = Readonly<Record<string, string | undefined>>;

function read<T>(env: Environment, variable: Variable<T>): T {
  const raw = env[variable.name];
  return variable.parse(raw === undefined || raw === '' ? variable.default : raw, variable.name);
}

function readOptional<T>(env: Environment, variable: Variable<T>): T | undefined {
  const raw = env[variable.name];
  return raw === undefined || raw.trim() === '' ? undefined : variable.parse(raw, variable.name);
}

// Exporter options read by the SDK's OTLP exporters from the environment themselves (not by this module); the
// eager pipeline does not implement them, so a signal with one of them set uses the SDK's exporter. INSECURE only
// matters for an endpoint without a scheme, which this module refuses; the SDK's exporter is used anyway so that
// its meaning stays the SDK's.
const SDK_EXPORTER_OPTIONS = ['HEADERS', 'COMPRESSION', 'CERTIFICATE', 'CLIENT_KEY', 'CLIENT_CERTIFICATE', 'INSECURE'];
const SIGNAL_TIMEOUT = integer(1, 600_000);

// Read by the SDK's TracerProvider from the environment itself: span limits and the SDK's own metrics. The server
// spans and the model pipeline's stage spans go straight to the eager exporter only when none is set (see
// direct-spans.ts).
const SDK_TRACER_OPTIONS = [
  'OTEL_ATTRIBUTE_COUNT_LIMIT',
  'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT',
  'OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT',
  'OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT',
  'OTEL_SPAN_EVENT_COUNT_LIMIT',
  'OTEL_SPAN_LINK_COUNT_LIMIT',
  'OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT',
  'OTEL_SPAN_ATTRIBUTE_PER_EVENT_COUNT_LIMIT',
  'OTEL_LINK_ATTRIBUTE_COUNT_LIMIT',
  'OTEL_SPAN_ATTRIBUTE_PER_LINK_COUNT_LIMIT',
  'OTEL_NODE_EXPERIMENTAL_SDK_METRICS',
];

function signalUrl(base: string, protocol: OtlpProtocol, signal: 'traces' | 'metrics' | 'logs', explicit: string | undefined): string {
  if (explicit !== undefined) return explicit;
  if (protocol === 'grpc') return base;
  // The specification: for OTLP/HTTP the base endpoint gets /v1/<signal> appended.
  return base.replace(/\/+$/, '') + `/v1/${signal}`;
}

/** Parses and validates the environment. Throws ConfigError naming the variable, the value and what is allowed. */
export function parseConfig(env: Environment, version = '0.0.0'): Config {
  const V = VARIABLES;
  const latencyMs = read(env, V.DEFAULT_LATENCY_MS);
  const jitter = readOptional(env, V.LATENCY_JITTER_MS);
  const receiver = {
    host: read(env, V.RECEIVER_HOST),
    grpcPort: read(env, V.RECEIVER_GRPC_PORT),
    httpPort: read(env, V.RECEIVER_HTTP_PORT),
    healthPort: read(env, V.RECEIVER_HEALTH_PORT),
    verbosity: read(env, V.RECEIVER_VERBOSITY),
    console: {
      enabled: read(env, V.RECEIVER_CONSOLE),
      host: read(env, V.RECEIVER_CONSOLE_HOST),
      port: read(env, V.RECEIVER_CONSOLE_PORT),
      limits: {
        maxTraces: read(env, V.RECEIVER_CONSOLE_MAX_TRACES),
        maxLogs: read(env, V.RECEIVER_CONSOLE_MAX_LOGS),
        maxSeries: read(env, V.RECEIVER_CONSOLE_MAX_SERIES),
        maxPointsPerSeries: read(env, V.RECEIVER_CONSOLE_MAX_POINTS),
      },
    },
  };
  const configuredBase = readOptional(env, V.OTEL_EXPORTER_OTLP_ENDPOINT);
  const protocol = read(env, V.OTEL_EXPORTER_OTLP_PROTOCOL);
  const perSignal = {
    traces: readOptional(env, V.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT),
    metrics: readOptional(env, V.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT),
    logs: readOptional(env, V.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT),
  };
  const embeddedReceiver =
    configuredBase === undefined && perSignal.traces === undefined && perSignal.metrics === undefined && perSignal.logs === undefined;
  const receiverBase = (p: OtlpProtocol) =>
    `http://${receiver.host === '0.0.0.0' ? '127.0.0.1' : receiver.host}:${p === 'grpc' ? receiver.grpcPort : receiver.httpPort}`;
  const signal = (
    name: 'traces' | 'metrics' | 'logs',
    exporterVar: Variable<SignalExporter | MetricsExporters>,
    protocolVar: Variable<OtlpProtocol>,
  ): SignalConfig => {
    const p = readOptional(env, protocolVar) ?? protocol;
    const base = configuredBase ?? receiverBase(p);
    const sdkExporterVariable = SDK_EXPORTER_OPTIONS.flatMap((o) => [`OTEL_EXPORTER_OTLP_${o}`, `OTEL_EXPORTER_OTLP_${name.toUpperCase()}_${o}`]).find((n) => env[n]?.trim());
    const timeoutVar = `OTEL_EXPORTER_OTLP_${name.toUpperCase()}_TIMEOUT`;
    const timeoutMs = env[timeoutVar]?.trim() ? SIGNAL_TIMEOUT(env[timeoutVar]!, timeoutVar) : read(env, V.OTEL_EXPORTER_OTLP_TIMEOUT);
    const exporter = read(env, exporterVar);
    return { exporter: typeof exporter === 'string' ? exporter : exporter.push, protocol: p, url: signalUrl(base, p, name, perSignal[name]), timeoutMs, sdkExporterVariable };
  };
  const samplerRatio = readOptional(env, V.OTEL_TRACES_SAMPLER_ARG) ?? 1;
  if (samplerRatio > 1) throw new ConfigError('OTEL_TRACES_SAMPLER_ARG', String(samplerRatio), 'a number from 0 to 1');
  const weights = readOptional(env, V.MODEL_WEIGHTS) ?? null;
  const maxFeatures = read(env, V.MAX_FEATURES);
  if (weights !== null && weights.length > maxFeatures) {
    throw new ConfigError('MODEL_WEIGHTS', weights.join(','), `at most MAX_FEATURES (${maxFeatures}) weights`);
  }
  const modelPath = readOptional(env, V.MODEL_PATH);
  const modelRepository = readOptional(env, V.MODEL_REPOSITORY);
  if (modelPath !== undefined && modelRepository !== undefined) {
    throw new ConfigError('MODEL_PATH', modelPath, 'MODEL_PATH or MODEL_REPOSITORY, not both');
  }
  const config: Config = {
    appEnv: read(env, V.APP_ENV),
    version,
    host: read(env, V.API_HOST),
    port: read(env, V.API_PORT),
    bodyLimit: read(env, V.BODY_LIMIT_BYTES),
    requestTimeoutMs: read(env, V.REQUEST_TIMEOUT_MS),
    maxHeaderBytes: read(env, V.MAX_HEADER_BYTES),
    logLevel: read(env, V.LOG_LEVEL),
    model: {
      name: read(env, V.MODEL_NAME),
      path: modelPath,
      repository: modelRepository,
      weights,
      bias: read(env, V.MODEL_BIAS),
      latencyMs,
      jitterMs: jitter ?? latencyMs / 10,
      maxBatchSize: read(env, V.MAX_BATCH_SIZE),
      maxQueueDelayUs: read(env, V.MAX_QUEUE_DELAY_US),
      maxFeatures,
      concurrency: read(env, V.MODEL_CONCURRENCY),
      maxQueue: read(env, V.MAX_QUEUE),
    },
    shutdown: { delayMs: read(env, V.SHUTDOWN_DELAY_MS), timeoutMs: read(env, V.SHUTDOWN_TIMEOUT_MS) },
    telemetry: {
      disabled: read(env, V.OTEL_SDK_DISABLED),
      runtimeMetrics: read(env, V.RUNTIME_METRICS),
      gcMetrics: read(env, V.GC_METRICS),
      serviceName: read(env, V.OTEL_SERVICE_NAME),
      resourceAttributes: Object.freeze(read(env, V.OTEL_RESOURCE_ATTRIBUTES)),
      collectorEndpoint: configuredBase ?? perSignal.traces ?? receiverBase(protocol),
      embeddedReceiver,
      traces: signal('traces', V.OTEL_TRACES_EXPORTER, V.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL),
      metrics: {
        ...signal('metrics', V.OTEL_METRICS_EXPORTER, V.OTEL_EXPORTER_OTLP_METRICS_PROTOCOL),
        prometheus: read(env, V.OTEL_METRICS_EXPORTER).prometheus
          ? { host: read(env, V.OTEL_EXPORTER_PROMETHEUS_HOST), port: read(env, V.OTEL_EXPORTER_PROMETHEUS_PORT) }
          : undefined,
        temporalityPreference: env.OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE?.trim().toLowerCase() || undefined,
        intervalMs: read(env, V.OTEL_METRIC_EXPORT_INTERVAL),
        readerTimeoutMs: read(env, V.OTEL_METRIC_EXPORT_TIMEOUT),
        histogramAggregation: env.OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION?.trim() || undefined,
      },
      logs: signal('logs', V.OTEL_LOGS_EXPORTER, V.OTEL_EXPORTER_OTLP_LOGS_PROTOCOL),
      sampler: read(env, V.OTEL_TRACES_SAMPLER),
      samplerRatio,
      exportConcurrency: read(env, V.EXPORT_CONCURRENCY),
      exportPipeline: read(env, V.EXPORT_PIPELINE),
      sdkTracerVariable: SDK_TRACER_OPTIONS.find((n) => env[n]?.trim()),
      exportRetryMs: read(env, V.EXPORT_RETRY_MS),
      batch: {
        scheduleDelayMs: read(env, V.OTEL_BSP_SCHEDULE_DELAY),
        exportTimeoutMs: read(env, V.OTEL_BSP_EXPORT_TIMEOUT),
        maxQueueSize: read(env, V.OTEL_BSP_MAX_QUEUE_SIZE),
        maxExportBatchSize: read(env, V.OTEL_BSP_MAX_EXPORT_BATCH_SIZE),
      },
      logBatch: {
        scheduleDelayMs: read(env, V.OTEL_BLRP_SCHEDULE_DELAY),
        exportTimeoutMs: read(env, V.OTEL_BLRP_EXPORT_TIMEOUT),
        maxQueueSize: read(env, V.OTEL_BLRP_MAX_QUEUE_SIZE),
        maxExportBatchSize: read(env, V.OTEL_BLRP_MAX_EXPORT_BATCH_SIZE),
      },
    },
    receiver,
  };
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/**
 * The process environment with `.env` (if present in `dir`) underneath: real environment variables win.
 * Keys only in `.env` are also copied into `process.env`, because the OpenTelemetry exporters read a few
 * `OTEL_EXPORTER_OTLP_*` variables (headers, compression) themselves.
 */
export function loadEnvironment(dir = process.cwd()): Environment {
  let fromFile: Record<string, string> = {};
  try {
    fromFile = parseEnv(readFileSync(resolve(dir, '.env'), 'utf8')) as Record<string, string>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  for (const [key, value] of Object.entries(fromFile)) {
    if (process.env[key] === undefined) process.env[key] = value;
  }
  return { ...process.env };
}
