// Every instrument the service records, declared once with name, unit, description and bucket boundaries.
// Only `@opentelemetry/api` instruments are used here, and the histogram tables of histograms.ts: when the SDK is
// disabled these are the API's no-op instruments (the tables then hand every record to the API's no-op Histogram).
// The README's telemetry catalogue lists exactly these (a test compares the two with what is exported).
import { metrics, trace, ValueType, type Attributes } from '@opentelemetry/api';
import { HistogramTable, type HistogramOptions } from './histograms.ts';
import { SCOPE_NAME, SCOPE_VERSION } from './scope.ts';

export const tracer = trace.getTracer(SCOPE_NAME, SCOPE_VERSION);
const meter = metrics.getMeter(SCOPE_NAME, SCOPE_VERSION);

// The guide's buckets (0-50, 50-100, ... 250+ ms) continued to 10 s.
export const PREDICTION_LATENCY_BUCKETS_MS = [
  5, 10, 25, 50, 75, 100, 125, 150, 200, 250, 300, 400, 500, 750, 1000, 2500, 5000, 10000,
];
// The HTTP semantic conventions' recommended boundaries for http.server.request.duration, in seconds.
export const HTTP_DURATION_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/**
 * Counts kept in a plain Map and reported through an observable instrument at each collection. The SDK's
 * synchronous counters hash the attribute object on every add() (sort + JSON.stringify: measured as 2-3 % of
 * the CPU at saturation for three counters); here a request costs one string key and one Map lookup, and the
 * exported Sum is the same cumulative series.
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

/** A CountTable exported as an observable counter (monotonic) or up-down counter. */
function countTable(kind: 'counter' | 'upDownCounter', name: string, description: string, unit: string): CountTable {
  const table = new CountTable();
  const options = { description, unit, valueType: ValueType.INT };
  const instrument = kind === 'counter' ? meter.createObservableCounter(name, options) : meter.createObservableUpDownCounter(name, options);
  instrument.addCallback((result) => table.observe(result));
  return table;
}

/** The guide's request counter: method, endpoint (route template, never a raw path) and status. */
export const httpRequests = countTable('counter', 'http_requests_total', 'HTTP requests answered, by method, route template and status code.', '{request}');

/** A histogram aggregated by series key (histograms.ts), or the SDK's when the exporter asks for another aggregation. */
const histogram = (name: string, options: HistogramOptions) => new HistogramTable(name, options, () => meter.createHistogram(name, options));

/** The guide's latency histogram: model latency of each prediction request, ms. */
export const predictionLatencyMs = histogram('prediction_latency_ms', {
  description: 'Time spent in the model pipeline (preprocess, inference, postprocess) per prediction request.',
  unit: 'ms',
  advice: { explicitBucketBoundaries: PREDICTION_LATENCY_BUCKETS_MS },
});

/** Stable HTTP semantic convention: server request duration, seconds. */
export const httpServerRequestDuration = histogram('http.server.request.duration', {
  description: 'Duration of HTTP server requests.',
  unit: 's',
  advice: { explicitBucketBoundaries: HTTP_DURATION_BUCKETS_S },
});

/** HTTP semantic convention (development): requests being processed right now. */
export const activeRequests = countTable('upDownCounter', 'http.server.active_requests', 'Number of active HTTP server requests.', '{request}');

/** Predictions made (one per row of a batch), by model and endpoint. */
export const predictions = countTable('counter', 'predictions_total', 'Predictions computed, one per input row, by model and route.', '{prediction}');

/** Requests refused before reaching the model, by reason (overloaded: the queue was full). */
export const requestsRejectedTotal = meter.createCounter('requests_rejected_total', {
  description: 'Prediction requests refused with 503 before reaching the model, by reason.',
  unit: '{request}',
  valueType: ValueType.INT,
});

/** Span names, in one place so the catalogue test and the code cannot drift apart. */
export const SPAN = {
  preprocess: 'preprocess',
  inference: 'inference',
  postprocess: 'postprocess',
} as const;

/** Attributes of the pipeline spans (model.*) and of the server span beyond the HTTP semantic conventions. */
export const ATTR = {
  modelName: 'model.name',
  featureCount: 'model.feature_count',
  batchSize: 'model.batch_size',
  simulatedLatencyMs: 'model.simulated_latency_ms',
  errorCode: 'app.error.code',
} as const;
