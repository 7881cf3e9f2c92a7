// Open Inference Protocol v2 over REST (KServe, Triton, Seldon MLServer; kserve/open-inference-protocol,
// specification/protocol/inference_rest.md): health, server and model metadata, model readiness, and infer with
// JSON tensors. Infer runs through the same admission, stage spans, metrics and log lines as /predict; errors
// answer {"error": "..."} (the error handler in app.ts), 4xx for anything the request got wrong.
import { context } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from './errors.ts';
import { stage } from './model.ts';
import { ORT_TYPE, ort, type Datatype, type Model, type TensorInfo } from './inference/runtime.ts';
import type { Models } from './inference/repository.ts';
import type { ModelBatchers } from './batched-model.ts';
import { ATTR, SPAN, type Instruments, type SpanStarter } from '../telemetry/catalogue.ts';

export interface V2Context {
  readonly serverName: string;
  readonly serverVersion: string;
  readonly models: () => Models | undefined;
  /** The service is ready: listening, not draining, every model loaded. */
  readonly ready: () => boolean;
  /** The models' dynamic batchers, also the admission control (503 ERR_OVERLOADED when a queue is full). */
  readonly batchers: ModelBatchers;
  readonly spans: SpanStarter;
  readonly instruments: Instruments;
}

type Json = unknown;
type Parameters = Record<string, string | number | boolean>;

const bad = (message: string) => new AppError('ERR_INFER_INVALID', message);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const quote = (s: string) => JSON.stringify(s.length > 64 ? s.slice(0, 64) + '…' : s);

function parameters(value: unknown, where: string): Parameters | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value) || !Object.values(value).every((v) => ['string', 'number', 'boolean'].includes(typeof v))) {
    throw bad(`${where}parameters must be an object of string, number or boolean values`);
  }
  return value as Parameters;
}

// Element checks and typed arrays per datatype. INT64/UINT64 travel as JSON numbers: exact up to 2^53.
const INT_RANGE: Partial<Record<Datatype, [number, number]>> = {
  INT8: [-(2 ** 7), 2 ** 7 - 1],
  INT16: [-(2 ** 15), 2 ** 15 - 1],
  INT32: [-(2 ** 31), 2 ** 31 - 1],
  INT64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  UINT8: [0, 2 ** 8 - 1],
  UINT16: [0, 2 ** 16 - 1],
  UINT32: [0, 2 ** 32 - 1],
  UINT64: [0, Number.MAX_SAFE_INTEGER],
};
const SUPPORTED: readonly Datatype[] = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP32', 'FP64'];

function typedArray(datatype: Datatype, values: readonly unknown[], input: string): ort.Tensor['data'] {
  const at = (i: number, what: string) => bad(`input ${quote(input)}: data[${i}] is not ${what}`);
  switch (datatype) {
    case 'BOOL':
      return Uint8Array.from(values, (v, i) => {
        if (typeof v !== 'boolean') throw at(i, 'a boolean (BOOL)');
        return v ? 1 : 0;
      });
    case 'FP32':
    case 'FP64': {
      const out = datatype === 'FP32' ? new Float32Array(values.length) : new Float64Array(values.length);
      values.forEach((v, i) => {
        if (typeof v !== 'number') throw at(i, `a number (${datatype})`);
        out[i] = v;
      });
      return out;
    }
    default: {
      const [min, max] = INT_RANGE[datatype]!;
      const check = (v: unknown, i: number): number => {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw at(i, `an integer from ${min} to ${max} (${datatype})`);
        return v;
      };
      if (datatype === 'INT64') return BigInt64Array.from(values, (v, i) => BigInt(check(v, i)));
      if (datatype === 'UINT64') return BigUint64Array.from(values, (v, i) => BigInt(check(v, i)));
      const Ctor = { INT8: Int8Array, INT16: Int16Array, INT32: Int32Array, UINT8: Uint8Array, UINT16: Uint16Array, UINT32: Uint32Array }[datatype as 'INT8'];
      return Ctor.from(values, check);
    }
  }
}

/**
 * `data` as a flat row-major list: already flat, or nested exactly as `shape` (the specification allows both).
 * Recursion is bounded by the shape's rank, which equals the model input's.
 */
function flatten(data: unknown, shape: readonly number[], input: string): unknown[] {
  if (!Array.isArray(data)) throw bad(`input ${quote(input)}: data must be an array`);
  if (!data.some(Array.isArray)) return data;
  const out: unknown[] = [];
  const walk = (node: unknown, depth: number): void => {
    if (depth === shape.length) {
      if (Array.isArray(node)) throw bad(`input ${quote(input)}: data is nested deeper than its shape ${JSON.stringify(shape)}`);
      out.push(node);
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      throw bad(`input ${quote(input)}: nested data does not match its shape ${JSON.stringify(shape)} at depth ${depth}`);
    }
    for (const child of node) walk(child, depth + 1);
  };
  walk(data, 0);
  return out;
}

interface ParsedRequest {
  readonly id: string | undefined;
  readonly inputs: readonly { readonly spec: TensorInfo; readonly shape: number[]; readonly data: ort.Tensor['data'] }[];
  readonly outputs: readonly TensorInfo[];
  readonly batchSize: number;
  readonly featureCount: number;
}

/** Checks an inference request against the model's own metadata and builds its feeds; 400 on anything wrong. */
export function parseInferRequest(body: Json, model: Model): ParsedRequest {
  const { info } = model;
  if (!isObject(body)) throw bad('the request body must be a JSON object');
  if (body.id !== undefined && typeof body.id !== 'string') throw bad('id must be a string');
  parameters(body.parameters, '');
  if (!Array.isArray(body.inputs) || body.inputs.length === 0) throw bad('inputs must be a non-empty array');
  const inputs: { spec: TensorInfo; shape: number[]; data: ort.Tensor['data'] }[] = [];
  let batchSize = 0;
  let featureCount = 0;
  for (const [i, raw] of body.inputs.entries()) {
    if (!isObject(raw)) throw bad(`inputs[${i}] must be an object`);
    const { name, shape, datatype, data } = raw;
    if (typeof name !== 'string') throw bad(`inputs[${i}].name must be a string`);
    const spec = info.inputs.find((t) => t.name === name);
    if (spec === undefined) {
      throw bad(`unexpected inference input ${quote(name)} for model ${quote(info.name)}; its inputs: ${info.inputs.map((t) => t.name).join(', ')}`);
    }
    if (inputs.some((t) => t.spec === spec)) throw bad(`input ${quote(name)} is given twice`);
    parameters(raw.parameters, `input ${quote(name)}: `);
    if (typeof datatype !== 'string') throw bad(`input ${quote(name)}: datatype must be a string`);
    if (datatype !== spec.datatype) throw bad(`input ${quote(name)}: datatype ${quote(datatype)} does not match the model's ${spec.datatype}`);
    if (!SUPPORTED.includes(spec.datatype)) throw bad(`input ${quote(name)}: datatype ${spec.datatype} cannot be sent as JSON here`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d > 0)) {
      throw bad(`input ${quote(name)}: shape must be an array of integers >= 1`);
    }
    if (shape.length !== spec.shape.length || shape.some((d, k) => spec.shape[k] !== -1 && spec.shape[k] !== d)) {
      throw bad(`input ${quote(name)}: shape ${JSON.stringify(shape)} does not match the model's ${JSON.stringify(spec.shape)} (-1: any size)`);
    }
    const values = flatten(data, shape, name);
    // The product of dimensions >= 1 is at least every dimension: a huge shape needs as much data, which the body
    // limit bounds.
    const size = shape.reduce((a: number, b: number) => a * b, 1);
    if (values.length !== size) throw bad(`input ${quote(name)}: shape ${JSON.stringify(shape)} needs ${size} elements, data has ${values.length}`);
    inputs.push({ spec, shape, data: typedArray(spec.datatype, values, name) });
    if (i === 0) {
      batchSize = shape[0]!;
      featureCount = size / batchSize;
    }
  }
  const missing = info.inputs.filter((t) => !inputs.some((i) => i.spec === t));
  if (missing.length > 0) throw bad(`model ${quote(info.name)} needs the input${missing.length > 1 ? 's' : ''} ${missing.map((t) => quote(t.name)).join(', ')}`);
  let outputs = info.outputs;
  if (body.outputs !== undefined) {
    if (!Array.isArray(body.outputs)) throw bad('outputs must be an array');
    outputs = body.outputs.map((o, i) => {
      if (!isObject(o) || typeof o.name !== 'string') throw bad(`outputs[${i}] must be an object with a name`);
      parameters(o.parameters, `output ${quote(o.name)}: `);
      const spec = info.outputs.find((t) => t.name === o.name);
      if (spec === undefined) throw bad(`unexpected inference output ${quote(o.name)} for model ${quote(info.name)}; its outputs: ${info.outputs.map((t) => t.name).join(', ')}`);
      return spec;
    });
  }
  return { id: body.id as string | undefined, inputs, outputs, batchSize, featureCount };
}

/** A result tensor as a v2 response output: flat row-major data, BOOL as booleans, 64-bit integers as numbers. */
function responseOutput(spec: TensorInfo, tensor: ort.Tensor) {
  const raw = tensor.data as ArrayLike<number | bigint | string>;
  const data = spec.datatype === 'BOOL' ? Array.from(raw, Boolean) : Array.from(raw, (v) => (typeof v === 'bigint' ? Number(v) : v));
  return { name: spec.name, datatype: spec.datatype, shape: [...tensor.dims], data };
}

const metadata = (model: Model) => ({
  name: model.info.name,
  versions: model.info.versions,
  platform: model.info.platform,
  inputs: model.info.inputs,
  outputs: model.info.outputs,
});

export function registerV2(app: FastifyInstance, v2: V2Context): void {
  const { predictionLatencyMs, predictions } = v2.instruments;

  /** The model named in the URL, at the version asked for if any; 404 otherwise. */
  function modelOf(request: FastifyRequest): Model {
    const { name, version } = request.params as { name: string; version?: string };
    const model = v2.models()?.get(name);
    if (model === undefined) throw new AppError('ERR_MODEL_NOT_FOUND', `model ${quote(name)} is not found`);
    if (version !== undefined && !model.info.versions.includes(version)) {
      throw new AppError('ERR_MODEL_NOT_FOUND', `model ${quote(name)} has no version ${quote(version)} (versions: ${model.info.versions.join(', ')})`);
    }
    return model;
  }

  app.get('/v2', async () => ({ name: v2.serverName, version: v2.serverVersion, extensions: [] }));
  app.get('/v2/health/live', async () => ({ live: true }));
  // The specification leaves the "not ready" status open; 503 as /readyz answers (any status >= 400 fails a probe).
  app.get('/v2/health/ready', async (_request, reply) => reply.code(v2.ready() ? 200 : 503).send({ ready: v2.ready() }));

  for (const prefix of ['/v2/models/:name', '/v2/models/:name/versions/:version']) {
    app.get(prefix, async (request) => metadata(modelOf(request)));
    app.get(`${prefix}/ready`, async (request) => ({ name: modelOf(request).info.name, ready: true }));
    app.post(`${prefix}/infer`, async (request, reply) => {
      const model = modelOf(request);
      const route = request.routeOptions.url!;
      const started = performance.now();
      const parent = context.active();
      // Validated before any stage span, as /predict is: a 400 leaves no stage behind.
      const parsed = parseInferRequest(request.body, model);
      const attrs = { [ATTR.modelName]: model.info.name, [ATTR.batchSize]: parsed.batchSize, [ATTR.featureCount]: parsed.featureCount };
      request.log.info({ batch_size: parsed.batchSize }, 'Prediction request received');
      const feeds = stage(v2.spans, SPAN.preprocess, attrs, parent, () =>
        Object.fromEntries(parsed.inputs.map((i) => [i.spec.name, new ort.Tensor(ORT_TYPE[i.spec.datatype], i.data as never, i.shape)])),
      );
      // The dynamic batcher runs the model (batcher.ts): its queue and inference spans, and the batch's links.
      const queued = v2.batchers.submit(model.info.name, feeds, parsed.batchSize, attrs, parent);
      if (queued.waiting) reply.raw.once('close', queued.cancel);
      const result = await queued.done.then(
        (served) => served,
        (err: Error) => {
          if (err instanceof AppError) throw err;
          // What passed the metadata checks can still disagree inside the graph (two inputs' dynamic sizes).
          throw bad(`inference failed: ${err.message.split('\n', 1)[0]}`);
        },
      );
      const outputs = stage(v2.spans, SPAN.postprocess, attrs, parent, () => parsed.outputs.map((spec) => responseOutput(spec, result.output[spec.name]!)));
      const latencyMs = performance.now() - started;
      const key = `${model.info.name} ${route}`;
      if (!predictionLatencyMs.record(key, latencyMs)) predictionLatencyMs.create(key, { [ATTR.modelName]: model.info.name, endpoint: route }, latencyMs);
      if (!predictions.add(key, parsed.batchSize)) predictions.create(key, { [ATTR.modelName]: model.info.name, endpoint: route }, parsed.batchSize);
      const latency = Math.round(latencyMs * 1000) / 1000;
      request.log.info({ latency_ms: latency, batch_size: parsed.batchSize }, `Prediction completed - latency: ${Math.round(latency)}ms`);
      return {
        model_name: model.info.name,
        model_version: model.info.version,
        ...(parsed.id === undefined ? {} : { id: parsed.id }),
        outputs,
      };
    });
  }
}
