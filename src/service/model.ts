// The /predict pipeline: rows of features into the MODEL_NAME model (an ONNX graph, inference/) through its dynamic
// batcher, in traced stages. Input validation lives here too, because what is valid depends on the model (feature count, weights).
import { context, SpanStatusCode, type Attributes, type Context, type Span } from '@opentelemetry/api';
import type { Config } from '../shared/config.ts';
import { AppError, validationError } from './errors.ts';
import { ort, type Model, type TensorInfo } from './inference/runtime.ts';
import { ATTR, SPAN, type SpanStarter } from '../telemetry/catalogue.ts';
import type { ModelBatchers } from './batched-model.ts';

export type ModelConfig = Config['model'];
export type Row = number[];

/** What /predict needs of its model: one input [batch, features] of FP32 or FP64, a first output of one value per row. */
export interface PredictSignature {
  readonly model: Model;
  readonly input: TensorInfo;
  readonly output: TensorInfo;
  /** The input's fixed feature count, when the graph fixes one. */
  readonly features: number | undefined;
}

/** Checks that `model` can serve /predict; throws an Error saying why not. */
export function predictSignature(model: Model): PredictSignature {
  const { name, inputs, outputs } = model.info;
  const input = inputs[0];
  const why = (what: string) => new Error(`model ${name} cannot serve /predict (MODEL_NAME): ${what}`);
  if (inputs.length !== 1 || input === undefined) throw why(`it has ${inputs.length} inputs, /predict feeds one`);
  if (input.shape.length !== 2 || (input.datatype !== 'FP32' && input.datatype !== 'FP64')) {
    throw why(`its input ${input.name} is ${input.datatype} ${JSON.stringify(input.shape)}, /predict feeds FP32 or FP64 [batch, features]`);
  }
  const output = outputs[0]!;
  const perRow = output.shape.slice(1);
  if (output.datatype === 'BYTES' || output.datatype === 'BOOL' || perRow.some((d) => d !== 1)) {
    throw why(`its first output ${output.name} is ${output.datatype} ${JSON.stringify(output.shape)}, /predict answers one number per row`);
  }
  return { model, input, output, features: input.shape[1]! > 0 ? input.shape[1] : undefined };
}

/** Checks one row of features; `loc` is where it sits in the body. Returns the row or throws a 422 AppError. */
export function validateRow(value: unknown, loc: (string | number)[], model: ModelConfig, features?: number): Row {
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
  if (features !== undefined && value.length !== features) {
    throw validationError(loc, `ensure this value has exactly ${features} items (the model's input)`, 'value_error.list.size');
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

export function parsePredictBody(body: unknown, model: ModelConfig, features?: number): Row {
  if (!isObject(body)) throw validationError([], 'value is not a valid dict', 'type_error.dict');
  return validateRow(body.features, ['features'], model, features);
}

export function parseBatchBody(body: unknown, model: ModelConfig, features?: number): Row[] {
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
  return instances.map((row, i) => validateRow(row, ['instances', i], model, features));
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
export function stage<T>(spans: SpanStarter, name: string, attributes: Attributes, parent: Context, fn: (span: Span) => T): T {
  const span = spans.stage(name, attributes, parent);
  const fail = (err: unknown): never => {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
    throw err;
  };
  try {
    const result = fn(span);
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
  /** Time spent in the pipeline, ms (what prediction_latency_ms records). */
  latencyMs: number;
}

/** Rows (all of one length) as the [batch, features] tensor of the input's float type. */
export function rowsTensor(rows: readonly Row[], input: TensorInfo): ort.Tensor {
  const width = rows[0]!.length;
  const data = input.datatype === 'FP32' ? new Float32Array(rows.length * width) : new Float64Array(rows.length * width);
  for (let r = 0; r < rows.length; r++) data.set(rows[r]!, r * width);
  return new ort.Tensor(input.datatype === 'FP32' ? 'float32' : 'float64', data, [rows.length, width]);
}

/** Rows grouped by length, each group with the rows' positions in the batch. */
function byWidth(rows: readonly Row[]): { rows: Row[]; index: number[] }[] {
  // The usual case, one row or rows of one length, without a Map per request.
  const width = rows[0]!.length;
  if (rows.every((r) => r.length === width)) return [{ rows: rows as Row[], index: rows.map((_, i) => i) }];
  const groups = new Map<number, { rows: Row[]; index: number[] }>();
  rows.forEach((row, i) => {
    let g = groups.get(row.length);
    if (g === undefined) groups.set(row.length, (g = { rows: [], index: [] }));
    g.rows.push(row);
    g.index.push(i);
  });
  return [...groups.values()];
}

const round6 = (p: number) => (Math.abs(p) < 1e15 ? Math.round(p * 1e6) / 1e6 : p);

/**
 * Runs the pipeline on validated rows: preprocess (the rows into one input tensor per row length), the batcher's
 * queue and inference (the request rides in one run of the ONNX graph with other requests of the same shape,
 * batched-model.ts), postprocess (one number per row, rounded to 6 decimals). Each stage is a child span of the active
 * span, started by `spans`. `onQueued`, called only when the request has to wait, receives the function that takes
 * it out of the queue should its client go away.
 */
export async function predict(
  rows: Row[],
  signature: PredictSignature,
  spans: SpanStarter,
  batchers: ModelBatchers,
  onQueued?: (cancel: () => void) => void,
): Promise<PredictionResult> {
  const started = performance.now();
  const parent = context.active();
  const { model, input, output } = signature;
  const name = model.info.name;
  const attrs = { [ATTR.modelName]: name, [ATTR.batchSize]: rows.length, [ATTR.featureCount]: rows[0]!.length };
  const groups = stage(spans, SPAN.preprocess, attrs, parent, () => byWidth(rows).map((g) => ({ ...g, feeds: { [input.name]: rowsTensor(g.rows, input) } })));
  // A tensor is rectangular: a batch of rows of several lengths (the guide's linear model accepts any feature
  // count) is queued once per length.
  const results = await Promise.all(
    groups.map((g) => {
      const groupAttrs = groups.length === 1 ? attrs : { [ATTR.modelName]: name, [ATTR.batchSize]: g.rows.length, [ATTR.featureCount]: g.rows[0]!.length };
      const queued = batchers.submit(name, g.feeds, g.rows.length, groupAttrs, parent);
      if (queued.waiting) onQueued?.(queued.cancel);
      return queued.done;
    }),
  );
  // Six decimals, only where that is representable: p * 1e6 overflows to Infinity above about 1.8e302.
  const predictions = stage(spans, SPAN.postprocess, attrs, parent, () => {
    const out = new Array<number>(rows.length);
    groups.forEach((g, i) => {
      const data = results[i]!.output[output.name]!.data as ArrayLike<number | bigint>;
      g.index.forEach((row, j) => (out[row] = round6(Number(data[j]))));
    });
    return out;
  });
  return { predictions, latencyMs: performance.now() - started };
}
