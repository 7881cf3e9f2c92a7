// The model runtime: one ONNX file in one ONNX Runtime InferenceSession (CPU), described by the model's own metadata.
// `run` is the one call the batcher sits in front of; the simulated model time is spent there, once per execution.
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import * as ort from 'onnxruntime-node';
import { identityModel, replaceInitializers } from './onnx-initializers.ts';

/**
 * Per-model settings from <repository>/<name>/config.json (repository.ts parses it), in Triton's model-configuration names (its JSON form):
 * `{"max_batch_size": 32, "dynamic_batching": {"max_queue_delay_microseconds": 500, "preferred_batch_size": [8, 16]}}`.
 * A field left out means "the service-wide setting".
 */
export interface ModelSettings {
  readonly maxBatchSize?: number;
  readonly maxQueueDelayMicroseconds?: number;
  readonly preferredBatchSize?: readonly number[];
}

/** Open Inference Protocol v2 tensor datatypes. */
export type Datatype = 'BOOL' | 'UINT8' | 'UINT16' | 'UINT32' | 'UINT64' | 'INT8' | 'INT16' | 'INT32' | 'INT64' | 'FP16' | 'FP32' | 'FP64' | 'BYTES';

/** onnxruntime's tensor type for each v2 datatype. */
export const ORT_TYPE = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
  BYTES: 'string',
} as const satisfies Record<Datatype, ort.Tensor.Type>;

const DATATYPE = Object.fromEntries(Object.entries(ORT_TYPE).map(([v2, t]) => [t, v2])) as Record<string, Datatype>;

export interface TensorInfo {
  readonly name: string;
  readonly datatype: Datatype;
  /** -1 for a dynamic dimension (a symbolic or unknown one in the graph). The batch dimension comes first. */
  readonly shape: readonly number[];
}

export interface ModelInfo {
  readonly name: string;
  /** The version served (the repository's highest numeric folder; "1" for MODEL_PATH). */
  readonly version: string;
  readonly versions: readonly string[];
  readonly platform: 'onnxruntime_onnx';
  readonly file: string;
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
}

export type Feeds = Record<string, ort.Tensor>;

export interface InferenceResult {
  /** Every output of the graph, batch dimension first. */
  readonly outputs: Record<string, ort.Tensor>;
  /** Simulated model time spent in this execution, ms (0 when DEFAULT_LATENCY_MS and the jitter are 0). */
  readonly simulatedLatencyMs: number;
}

export interface Model {
  readonly info: ModelInfo;
  /** Per-model settings from the repository's config.json (empty without one). */
  readonly settings: ModelSettings;
  /** One execution of the graph on `feeds` (one tensor per input, batch dimension first). */
  run(feeds: Feeds): Promise<InferenceResult>;
  release(): Promise<void>;
}

export interface LoadOptions {
  /** Initialisers to overwrite before the session is created (MODEL_WEIGHTS, MODEL_BIAS). */
  readonly initializers?: Readonly<Record<string, readonly number[]>>;
  /** The simulated model time for one execution, ms, drawn once per run. */
  readonly simulatedLatencyMs: () => number;
}

/** A model that could not be loaded; the message is one line naming the model and the file. */
export class ModelLoadError extends Error {
  constructor(name: string, file: string, reason: string) {
    super(`model ${name}: cannot load ${file}: ${reason.replace(/\s+/g, ' ').trim()}`);
    this.name = 'ModelLoadError';
  }
}

// A process's first session initialises ONNX Runtime (its environment, kernel registries: tens of ms); later ones take
// about a millisecond. Done once here, at import, so that an app is ready (its models loaded) moments after it is built.
ort.env.logLevel = 'error';
await ort.InferenceSession.create(identityModel()).then((s) => s.release());

function tensorInfo(meta: ort.InferenceSession.ValueMetadata, model: string, file: string): TensorInfo {
  if (!meta.isTensor) throw new ModelLoadError(model, file, `${meta.name} is not a tensor (sequences and maps are not served)`);
  const datatype = DATATYPE[meta.type];
  if (datatype === undefined) throw new ModelLoadError(model, file, `${meta.name} has the unsupported type ${meta.type}`);
  return { name: meta.name, datatype, shape: meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) };
}

export async function loadModel(
  file: string,
  name: string,
  version: string,
  settings: ModelSettings,
  options: LoadOptions,
): Promise<Model> {
  let session: ort.InferenceSession;
  try {
    let bytes: Uint8Array = await readFile(file);
    if (options.initializers !== undefined) bytes = replaceInitializers(bytes, options.initializers);
    session = await ort.InferenceSession.create(bytes, {
      // Small models: one thread per session runs them fastest and leaves the cores to the event loop and the
      // other sessions; errors only on stderr (an overridable initialiser's warning is expected here).
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      logSeverityLevel: 3,
    });
  } catch (err) {
    if (err instanceof ModelLoadError) throw err;
    throw new ModelLoadError(name, file, (err as Error).message);
  }
  let info: ModelInfo;
  try {
    info = {
      name,
      version,
      versions: [version],
      platform: 'onnxruntime_onnx',
      file,
      inputs: session.inputMetadata.map((m) => tensorInfo(m, name, file)),
      outputs: session.outputMetadata.map((m) => tensorInfo(m, name, file)),
    };
  } catch (err) {
    await session.release();
    throw err;
  }
  return {
    info,
    settings,
    async run(feeds) {
      const delay = options.simulatedLatencyMs();
      if (delay > 0) await sleep(delay);
      return { outputs: await session.run(feeds), simulatedLatencyMs: delay };
    },
    release: () => session.release(),
  };
}

export { ort };
