// The model: a real linear model, prediction = w.x + b, behind a simulated latency per executed batch, in traced
// stages around the dynamic batcher (batcher.ts).
// Input validation lives here too, because what is valid depends on the model (feature count, weights).
import { setTimeout as sleep } from 'node:timers/promises';
import { context, SpanStatusCode, type Attributes, type Context } from '@opentelemetry/api';
import type { Config } from '../shared/config.ts';
import { AppError, validationError } from './errors.ts';
import { ATTR, SPAN, type Instruments, type SpanStarter } from '../telemetry/catalogue.ts';
import { Batcher } from './batcher.ts';

export type ModelConfig = Config['model'];
export type Row = number[];

/** Checks one row of features; `loc` is where it sits in the body. Returns the row or throws a 422 AppError. */
export function validateRow(value: unknown, loc: (string | number)[], model: ModelConfig): Row {
  if (value === undefined) throw validationError(loc, 'field required', 'value_error.missing');
  if (!Array.isArray(value)) throw validationError(loc, 'value is not a valid list', 'type_error.list');
  if (value.length === 0) {
    throw validationError(loc, 'ensure this value has at least 1 items', 'value_error.list.min_items');
  }
  if (value.length > model.maxFeatures) {
    throw validationError(
      loc,
      `ensure this value has at most ${model.maxFeatures} items`,
      'value_error.list.max_items',
    );
  }
  if (model.weights !== null && value.length !== model.weights.length) {
    throw validationError(
      loc,
      `ensure this value has exactly ${model.weights.length} items (the model's weights)`,
      'value_error.list.size',
    );
  }
  for (let i = 0; i < value.length; i++) {
    const x = value[i];
    if (typeof x !== 'number') throw validationError([...loc, i], 'value is not a valid float', 'type_error.float');
    // JSON.parse turns 1e400 into Infinity; a prediction from it would be meaningless.
    if (!Number.isFinite(x)) throw validationError([...loc, i], 'value is not a finite number', 'value_error.float.not_finite');
  }
  return value as Row;
}

const isObject = (body: unknown): body is Record<string, unknown> =>
  typeof body === 'object' && body !== null && !Array.isArray(body);

export function parsePredictBody(body: unknown, model: ModelConfig): Row {
  if (!isObject(body)) throw validationError([], 'value is not a valid dict', 'type_error.dict');
  return validateRow(body.features, ['features'], model);
}

export function parseBatchBody(body: unknown, model: ModelConfig): Row[] {
  if (!isObject(body)) throw validationError([], 'value is not a valid dict', 'type_error.dict');
  const instances = body.instances;
  if (instances === undefined) throw validationError(['instances'], 'field required', 'value_error.missing');
  if (!Array.isArray(instances)) throw validationError(['instances'], 'value is not a valid list', 'type_error.list');
  if (instances.length === 0) {
    throw validationError(['instances'], 'ensure this value has at least 1 items', 'value_error.list.min_items');
  }
  if (instances.length > model.maxBatchSize) {
    throw new AppError('ERR_BATCH_TOO_LARGE', [
      {
        loc: ['body', 'instances'],
        msg: `ensure this value has at most ${model.maxBatchSize} items (MAX_BATCH_SIZE)`,
        type: 'value_error.list.max_items',
      },
    ]);
  }
  return instances.map((row, i) => validateRow(row, ['instances', i], model));
}

/** w.x + b, with w = 1 for every feature when no weights are configured. */
export function linear(row: ArrayLike<number>, model: ModelConfig): number {
  let sum = model.bias;
  const w = model.weights;
  for (let i = 0; i < row.length; i++) sum += (w === null ? 1 : w[i]!) * row[i]!;
  return sum;
}

/** Simulated model time: DEFAULT_LATENCY_MS plus a jitter uniform in [-j/2, +j] (skewed right, like real latency). */
export function simulatedLatencyMs(model: ModelConfig, random: () => number = Math.random): number {
  if (model.latencyMs === 0 && model.jitterMs === 0) return 0;
  return Math.max(0, model.latencyMs + model.jitterMs * (random() * 1.5 - 0.5));
}

/**
 * Runs `fn` (sync or async) as a child span of `parent`: the demo's error recipe, exception and ERROR status on
 * failure, end() either way. The stage spans are not made active: nothing inside them creates spans or logs,
 * and entering a context costs an AsyncLocalStorage switch per stage.
 */
function stage<T>(spans: SpanStarter, name: string, attributes: Attributes, parent: Context, fn: () => T): T {
  const span = spans.stage(name, attributes, parent);
  const fail = (err: unknown): never => {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
    throw err;
  };
  try {
    const result = fn();
    if (result instanceof Promise) {
      return result.then((value: unknown) => {
        span.end();
        return value;
      }, fail) as T;
    }
    span.end();
    return result;
  } catch (err) {
    return fail(err);
  }
}

/**
 * Finite features can still sum past the largest float64 (two features of 1e308): such a prediction is the
 * client's input problem, a 422 on the row, not a 200 with `null` (JSON has no Infinity).
 */
export function assertFinitePredictions(predictions: readonly number[], loc: (i: number) => (string | number)[]): void {
  const i = predictions.findIndex((p) => !Number.isFinite(p));
  if (i >= 0) throw validationError(loc(i), 'the prediction overflows a float64 for these features', 'value_error.float.not_finite');
}

export interface PredictionResult {
  predictions: number[];
  /** Time spent in the pipeline, ms (what prediction_latency_ms records), queue included. */
  latencyMs: number;
}

/** The linear model behind the dynamic batcher: a request's input is its rows, its output their predictions. */
export type ModelBatcher = Batcher<Float64Array[], number[]>;

/**
 * The batcher in front of the linear model: one simulated model time (DEFAULT_LATENCY_MS and jitter) per executed
 * batch, as accelerator time is spent per batch, then w.x + b for every row of every request in it.
 */
export function modelBatcher(model: ModelConfig, spans: SpanStarter, instruments: Instruments): ModelBatcher {
  const options = { maxBatchSize: model.maxBatchSize, maxQueueDelayUs: model.maxQueueDelayUs, concurrency: model.concurrency, maxQueue: model.maxQueue };
  return new Batcher(
    model.name,
    options,
    async (inputs) => {
      const delay = simulatedLatencyMs(model);
      if (delay > 0) await sleep(delay);
      return {
        outputs: inputs.map((rows) => rows.map((x) => linear(x, model))),
        attributes: { [ATTR.simulatedLatencyMs]: Math.round(delay * 1000) / 1000 },
      };
    },
    spans,
    instruments,
  );
}

/**
 * Runs the pipeline on validated rows: preprocess (copy into Float64Arrays), the batcher's queue and inference
 * (this request's rows ride in one batch with other requests of the same row length), postprocess (rounding to 6
 * decimals). Each stage is a child span of the active span, started by `spans`. `onQueued`, called only when the
 * request has to wait, receives the function that takes it out of the queue should its client go away.
 */
export async function predict(
  rows: Row[],
  model: ModelConfig,
  spans: SpanStarter,
  batcher: ModelBatcher,
  onQueued?: (cancel: () => void) => void,
): Promise<PredictionResult> {
  const started = performance.now();
  const parent = context.active();
  const featureCount = rows[0]!.length;
  const attrs = { [ATTR.modelName]: model.name, [ATTR.batchSize]: rows.length, [ATTR.featureCount]: featureCount };
  const inputs = stage(spans, SPAN.preprocess, attrs, parent, () => rows.map((r) => Float64Array.from(r)));
  const queued = batcher.submit({ input: inputs, rows: rows.length, key: String(featureCount), attributes: attrs, parent });
  if (queued.waiting) onQueued?.(queued.cancel);
  const { output } = await queued.done;
  // Six decimals, only where that is representable: p * 1e6 overflows to Infinity above about 1.8e302.
  const predictions = stage(spans, SPAN.postprocess, attrs, parent, () => output.map((p) => (Math.abs(p) < 1e15 ? Math.round(p * 1e6) / 1e6 : p)));
  return { predictions, latencyMs: performance.now() - started };
}
