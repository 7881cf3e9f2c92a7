// Where models come from: MODEL_PATH (one file) or MODEL_REPOSITORY (Triton/MLServer layout,
// <repository>/<name>/<version>/model.onnx with an optional <repository>/<name>/config.json), the committed models/
// folder when neither is set. Loads every model before the service reports ready.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel, ModelLoadError, type LoadOptions, type Model, type ModelSettings } from './runtime.ts';

export type { ModelSettings };

/** The models/ folder shipped with the service (src/service/inference/ and dist/service/inference/ sit 3 levels below). */
export const DEFAULT_REPOSITORY = fileURLToPath(new URL('../../../models/', import.meta.url));
export const MODEL_FILE = 'model.onnx';
export const CONFIG_FILE = 'config.json';


export interface ModelSource {
  readonly name: string;
  readonly version: string;
  readonly file: string;
  readonly settings: ModelSettings;
}

export interface RepositoryOptions {
  /** MODEL_PATH: one ONNX file, served as `name`, version 1. */
  readonly path?: string;
  /** MODEL_REPOSITORY; DEFAULT_REPOSITORY when neither is set. */
  readonly repository?: string;
  /** MODEL_NAME: the model /predict serves; with MODEL_PATH, the name of that model. */
  readonly name: string;
}

const nonNegativeInteger = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** Parses config.json; throws an Error naming the file and the field. */
export function parseModelSettings(text: string, file: string): ModelSettings {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  const bad = (what: string) => new Error(`${file}: ${what}`);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('expected a JSON object');
  const { max_batch_size, dynamic_batching, ...rest } = raw as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw bad(`unknown field ${unknown.join(', ')} (known: max_batch_size, dynamic_batching)`);
  const settings: { -readonly [K in keyof ModelSettings]: ModelSettings[K] } = {};
  if (max_batch_size !== undefined) {
    if (!nonNegativeInteger(max_batch_size)) throw bad('max_batch_size must be an integer >= 0');
    // Triton: 0 means the model does not batch; here that is a batch of one row at a time.
    settings.maxBatchSize = Math.max(1, max_batch_size);
  }
  if (dynamic_batching !== undefined) {
    if (typeof dynamic_batching !== 'object' || dynamic_batching === null || Array.isArray(dynamic_batching)) throw bad('dynamic_batching must be an object');
    const { max_queue_delay_microseconds, preferred_batch_size, ...more } = dynamic_batching as Record<string, unknown>;
    const extra = Object.keys(more);
    if (extra.length > 0) throw bad(`unknown field dynamic_batching.${extra.join(', dynamic_batching.')} (known: max_queue_delay_microseconds, preferred_batch_size)`);
    if (max_queue_delay_microseconds !== undefined) {
      if (!nonNegativeInteger(max_queue_delay_microseconds)) throw bad('dynamic_batching.max_queue_delay_microseconds must be an integer >= 0');
      settings.maxQueueDelayMicroseconds = max_queue_delay_microseconds;
    }
    if (preferred_batch_size !== undefined) {
      if (!Array.isArray(preferred_batch_size) || !preferred_batch_size.every((n) => nonNegativeInteger(n) && n > 0)) {
        throw bad('dynamic_batching.preferred_batch_size must be a list of integers >= 1');
      }
      settings.preferredBatchSize = Object.freeze([...preferred_batch_size].sort((a, b) => a - b));
    }
  }
  return Object.freeze(settings);
}

/** The models to load, without loading them. Throws an Error naming the folder or file that is wrong. */
export function findModels(options: RepositoryOptions): ModelSource[] {
  if (options.path !== undefined) {
    const file = resolve(options.path);
    if (!existsSync(file)) throw new ModelLoadError(options.name, file, 'no such file (MODEL_PATH)');
    return [{ name: options.name, version: '1', file, settings: {} }];
  }
  const root = resolve(options.repository ?? DEFAULT_REPOSITORY);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new Error(`model repository ${root} is not a folder (MODEL_REPOSITORY)`);
  const sources: ModelSource[] = [];
  for (const entry of readdirSync(root, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const dir = join(root, entry.name);
    // Triton's default version policy: the highest numeric version folder is served.
    const versions = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && /^[0-9]+$/.test(e.name) && existsSync(join(dir, e.name, MODEL_FILE)))
      .map((e) => e.name)
      .sort((a, b) => Number(a) - Number(b));
    const version = versions.at(-1);
    if (version === undefined) throw new Error(`model repository ${root}: ${entry.name}/ has no <version>/${MODEL_FILE}`);
    const configFile = join(dir, CONFIG_FILE);
    const settings = existsSync(configFile) ? parseModelSettings(readFileSync(configFile, 'utf8'), configFile) : {};
    sources.push({ name: entry.name, version, file: join(dir, version, MODEL_FILE), settings });
  }
  if (sources.length === 0) throw new Error(`model repository ${root} holds no model (expected <name>/<version>/${MODEL_FILE})`);
  if (!sources.some((s) => s.name === options.name)) {
    throw new Error(`MODEL_NAME=${options.name} is not in the model repository ${root} (it holds ${sources.map((s) => s.name).join(', ')})`);
  }
  return sources;
}

/** The loaded models, by name. */
export class Models {
  readonly #byName: Map<string, Model>;
  readonly defaultName: string;
  constructor(models: readonly Model[], defaultName: string) {
    this.#byName = new Map(models.map((m) => [m.info.name, m]));
    this.defaultName = defaultName;
  }
  get(name: string): Model | undefined {
    return this.#byName.get(name);
  }
  /** The model /predict serves (MODEL_NAME). */
  get default(): Model {
    return this.#byName.get(this.defaultName)!;
  }
  get all(): Model[] {
    return [...this.#byName.values()];
  }
  async release(): Promise<void> {
    await Promise.all(this.all.map((m) => m.release()));
  }
}

/** Loads every model; on a failure, releases the ones loaded and throws the first error. */
export async function loadModels(options: RepositoryOptions, load: (source: ModelSource) => LoadOptions): Promise<Models> {
  const sources = findModels(options);
  const results = await Promise.allSettled(sources.map((s) => loadModel(s.file, s.name, s.version, s.settings, load(s))));
  const loaded = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(loaded.map((m) => m.release()));
    throw failed.reason;
  }
  return new Models(loaded, options.name);
}
