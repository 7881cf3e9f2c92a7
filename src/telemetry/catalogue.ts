// The telemetry catalogue: the instrumentation scope, every instrument the service records (name, unit,
// description, bucket boundaries), span names and attribute names, declared once. The README's catalogue lists
// exactly these (test/telemetry/catalogue.test.ts compares the two with what is really exported).
// Instruments are made by createInstruments from a meter the bootstrap hands in: nothing here runs at import time.
import { SpanKind, ValueType, type Attributes, type Context, type Link, type Meter, type Span, type Tracer } from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
  METRIC_HTTP_SERVER_REQUEST_DURATION,
} from '@opentelemetry/semantic-conventions';
import { HistogramTable, type HistogramOptions, type HistogramProducer } from './histograms.ts';
import packageJson from '../../package.json' with { type: 'json' };

/** The instrumentation scope of everything the service emits. */
export const SCOPE = Object.freeze({ name: 'ai-inference-service', version: packageJson.version });

// The guide's buckets (0-50, 50-100, ... 250+ ms) continued to 10 s.
export const PREDICTION_LATENCY_BUCKETS_MS = [
  5, 10, 25, 50, 75, 100, 125, 150, 200, 250, 300, 400, 500, 750, 1000, 2500, 5000, 10000,
];
// The HTTP semantic conventions' recommended boundaries for http.server.request.duration, in seconds.
export const HTTP_DURATION_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
// Queue and compute time of the dynamic batcher, ms: from a tenth of a millisecond (an immediate dispatch) to 10 s.
export const BATCHER_DURATION_BUCKETS_MS = [0.1, 0.5, 1, 2.5, 5, 10, 25, 50, 75, 100, 150, 200, 300, 500, 1000, 2500, 5000, 10000];
// Rows per executed batch: powers of two up to well past the default MAX_BATCH_SIZE.
export const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/** Span names, in one place so the catalogue test and the code cannot drift apart. */
export const SPAN = {
  preprocess: 'preprocess',
  inference: 'inference',
  postprocess: 'postprocess',
  /** A request's wait in the batcher's queue, from submission to the start of the batch it rides in. */
  queue: 'queue',
  /** One executed batch: a root span linked to the server span of every request it served. */
  batch: 'batch',
} as const;

/** Span and metric attributes: the semantic conventions' names where one exists, ours (model.*, app.*) otherwise. */
export const ATTR = {
  httpRequestMethod: ATTR_HTTP_REQUEST_METHOD,
  httpResponseStatusCode: ATTR_HTTP_RESPONSE_STATUS_CODE,
  httpRoute: ATTR_HTTP_ROUTE,
  urlPath: ATTR_URL_PATH,
  urlScheme: ATTR_URL_SCHEME,
  networkProtocolVersion: ATTR_NETWORK_PROTOCOL_VERSION,
  userAgentOriginal: ATTR_USER_AGENT_ORIGINAL,
  errorType: ATTR_ERROR_TYPE,
  modelName: 'model.name',
  featureCount: 'model.feature_count',
  batchSize: 'model.batch_size',
  simulatedLatencyMs: 'model.simulated_latency_ms',
  /** Requests served by one executed batch (model.batch_size counts their rows). */
  batchRequests: 'model.batch.requests',
  errorCode: 'app.error.code',
} as const;

/**
 * How the service starts its spans: a Tracer narrowed to the two kinds it makes, called without an options object.
 * The bootstrap hands either the SDK's Tracer behind it (tracerSpans) or the direct spans of direct-spans.ts.
 */
export interface SpanStarter {
  /** The request's server span under the (extracted) context `parent`; `attributes` is taken, not copied. */
  server(name: string, attributes: Attributes, parent: Context): Span;
  /** A pipeline stage's span, a child of the span in `parent`; `attributes` may be shared by several stages. */
  stage(name: string, attributes: Attributes, parent: Context): Span;
  /** An executed batch's span: the root of a trace of its own, linked to the requests it serves (`links`, taken). */
  batch(name: string, attributes: Attributes, links: Link[]): Span;
}

/** A SpanStarter over an API Tracer (the SDK's, or the API's no-op one). */
export function tracerSpans(tracer: Tracer): SpanStarter {
  return {
    server: (name, attributes, parent) => tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent),
    stage: (name, attributes, parent) => tracer.startSpan(name, { attributes }, parent),
    batch: (name, attributes, links) => tracer.startSpan(name, { kind: SpanKind.INTERNAL, attributes, links, root: true }),
  };
}

/**
 * Counts kept in a plain Map and reported through an observable instrument at each collection. The SDK's
 * synchronous counters hash the attribute object on every add() (sorted keys, then JSON.stringify); here a request
 * costs one string key and one Map lookup, and the exported Sum is the same cumulative series.
 */
export class CountTable {
  private readonly rows = new Map<string, { attributes: Attributes; value: number }>();
  /** Adds to an existing row; false when `key` has no row yet (then call `create`). */
  add(key: string, value: number): boolean {
    const row = this.rows.get(key);
    if (row === undefined) return false;
    row.value += value;
    return true;
  }
  create(key: string, attributes: Attributes, value: number): void {
    this.rows.set(key, { attributes, value });
  }
  observe(result: { observe(value: number, attributes?: Attributes): void }): void {
    for (const row of this.rows.values()) result.observe(row.value, row.attributes);
  }
}

/** Export outcomes of one signal, as telemetry_export_items_total reports them. */
export interface ExportOutcomes {
  readonly exported: number;
  readonly failed: number;
  readonly dropped: number;
}

/** Every instrument of the service. The domain receives this object; it never makes instruments itself. */
export interface Instruments {
  /** The guide's request counter: method, endpoint (route template, never a raw path) and status. */
  readonly httpRequests: CountTable;
  /** Stable HTTP semantic convention: server request duration, seconds. */
  readonly httpServerRequestDuration: HistogramTable;
  /** HTTP semantic convention (development): requests being processed right now. */
  readonly activeRequests: CountTable;
  /** The guide's latency histogram: model latency of each prediction request, ms. */
  readonly predictionLatencyMs: HistogramTable;
  /** Predictions made (one per row of a batch), by model and endpoint. */
  readonly predictions: CountTable;
  /** Requests refused before reaching the model, by reason (overloaded: the queue was full). */
  readonly requestsRejected: { add(value: number, attributes: Attributes): void };
  /** Batcher: time each request waited in the queue before its batch started, ms (Triton's queue duration). */
  readonly queueDurationMs: HistogramTable;
  /** Batcher: time each executed batch spent in the model, ms (Triton's compute_infer duration). */
  readonly computeDurationMs: HistogramTable;
  /** Batcher: rows per executed batch. */
  readonly batchSize: HistogramTable;
  /** Batcher: batches executed (Triton's exec count; predictions_total is its inference count). */
  readonly executions: CountTable;
  /** Batcher: requests waiting in the queue right now (Triton's pending request count). */
  readonly pendingRequests: CountTable;
  /** The guide's custom metric (predictions.by_model): predictions by model and outcome (success, error, rejected). */
  readonly predictionsByModel: CountTable;
}

/**
 * Makes every instrument on `meter`. `histograms`: the producer the histogram tables report to (the export plan
 * decides; without one they record into the meter's own histograms). `exportOutcomes`: read at each collection
 * for telemetry_export_items_total, per signal.
 */
export function createInstruments(
  meter: Meter,
  histograms?: HistogramProducer,
  exportOutcomes?: () => Iterable<readonly [signal: string, outcomes: ExportOutcomes]>,
): Instruments {
  const countTable = (kind: 'counter' | 'upDownCounter', name: string, description: string, unit: string): CountTable => {
    const table = new CountTable();
    const options = { description, unit, valueType: ValueType.INT };
    const instrument = kind === 'counter' ? meter.createObservableCounter(name, options) : meter.createObservableUpDownCounter(name, options);
    instrument.addCallback((result) => table.observe(result));
    return table;
  };
  const histogram = (name: string, options: HistogramOptions) =>
    new HistogramTable(name, options, histograms ?? (() => meter.createHistogram(name, options)));

  if (exportOutcomes !== undefined) {
    // Nothing lost silently: what each signal's export delivered, failed to deliver or dropped.
    meter
      .createObservableCounter('telemetry_export_items_total', {
        description: 'Spans and log records by export outcome: exported, failed (the Collector refused or was unreachable) or dropped (queue full).',
        unit: '{item}',
        valueType: ValueType.INT,
      })
      .addCallback((result) => {
        for (const [signal, o] of exportOutcomes()) {
          for (const outcome of ['exported', 'failed', 'dropped'] as const) result.observe(o[outcome], { signal, outcome });
        }
      });
  }

  // The semantic conventions' process.cpu.time (development status, hence the literal names): the dashboard's
  // CPU panel, whatever the path to Prometheus (the runtime instrumentation has no CPU metric).
  meter
    .createObservableCounter('process.cpu.time', { description: 'CPU time used by the process, by mode.', unit: 's', valueType: ValueType.DOUBLE })
    .addCallback((result) => {
      const { user, system } = process.cpuUsage();
      result.observe(user / 1e6, { 'cpu.mode': 'user' });
      result.observe(system / 1e6, { 'cpu.mode': 'system' });
    });

  return {
    httpRequests: countTable('counter', 'http_requests_total', 'HTTP requests answered, by method, route template and status code.', '{request}'),
    httpServerRequestDuration: histogram(METRIC_HTTP_SERVER_REQUEST_DURATION, {
      description: 'Duration of HTTP server requests.',
      unit: 's',
      advice: { explicitBucketBoundaries: HTTP_DURATION_BUCKETS_S },
    }),
    activeRequests: countTable('upDownCounter', 'http.server.active_requests', 'Number of active HTTP server requests.', '{request}'),
    predictionLatencyMs: histogram('prediction_latency_ms', {
      description: 'Time spent in the model pipeline (preprocess, inference, postprocess) per prediction request.',
      unit: 'ms',
      advice: { explicitBucketBoundaries: PREDICTION_LATENCY_BUCKETS_MS },
    }),
    predictions: countTable('counter', 'predictions_total', 'Predictions computed, one per input row, by model and route.', '{prediction}'),
    requestsRejected: meter.createCounter('requests_rejected_total', {
      description: 'Prediction requests refused with 503 before reaching the model, by reason.',
      unit: '{request}',
      valueType: ValueType.INT,
    }),
    queueDurationMs: histogram('model_queue_duration_ms', {
      description: 'Time each prediction request waited in the batcher queue before its batch started.',
      unit: 'ms',
      advice: { explicitBucketBoundaries: BATCHER_DURATION_BUCKETS_MS },
    }),
    computeDurationMs: histogram('model_compute_duration_ms', {
      description: 'Time each executed batch spent in the model.',
      unit: 'ms',
      advice: { explicitBucketBoundaries: BATCHER_DURATION_BUCKETS_MS },
    }),
    batchSize: histogram('model_batch_size', {
      description: 'Rows per executed batch.',
      unit: '{row}',
      advice: { explicitBucketBoundaries: BATCH_SIZE_BUCKETS },
    }),
    executions: countTable('counter', 'model_executions_total', 'Batches executed by the model (one model call each), by model.', '{execution}'),
    pendingRequests: countTable('upDownCounter', 'model_pending_requests', 'Prediction requests waiting in the batcher queue, by model.', '{request}'),
    predictionsByModel: countTable('counter', 'predictions_by_model', 'Predictions (rows) by model and outcome: success (the model answered), error (the model call failed), rejected (the queue was full).', '{prediction}'),
  };
}
