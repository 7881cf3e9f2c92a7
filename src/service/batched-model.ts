// The dynamic batcher (batcher.ts) in front of Model.run (inference/runtime.ts), one per model: the feeds of requests
// with the same per-row shapes are concatenated along the batch dimension (the first) into one run, and every
// output is split back along it, each request getting its own rows. Settings come from the model's config.json
// (Triton's max_batch_size, max_queue_delay_microseconds, preferred_batch_size) over the service-wide variables.
import type { Attributes, Context } from '@opentelemetry/api';
import type { Config } from '../shared/config.ts';
import { Batcher, type BatcherOptions, type Served } from './batcher.ts';
import { ort, type Feeds, type Model } from './inference/runtime.ts';
import { ATTR, type Instruments, type SpanStarter } from '../telemetry/catalogue.ts';

export type Outputs = Record<string, ort.Tensor>;
export type ModelBatcher = Batcher<Feeds, Outputs>;

/** The model's batching settings: its config.json where it has one, the service's variables otherwise. */
export function batchOptions(model: Model, config: Config['model']): BatcherOptions {
  const s = model.settings;
  // A graph that fixes its first dimension takes exactly that many rows per run: its requests are not combined.
  const fixed = model.info.inputs.some((i) => (i.shape[0] ?? -1) > 0);
  return {
    maxBatchSize: fixed ? 1 : (s.maxBatchSize ?? config.maxBatchSize),
    maxQueueDelayUs: s.maxQueueDelayMicroseconds ?? config.maxQueueDelayUs,
    preferredBatchSizes: s.preferredBatchSize ?? [],
    concurrency: config.concurrency,
    maxQueue: config.maxQueue,
  };
}

type Typed = Exclude<ort.Tensor['data'], string[]>;

/** `parts` (same type and per-row shape) as one tensor of `rows` rows. */
function concat(parts: ort.Tensor[], rows: number): ort.Tensor {
  const first = parts[0]!;
  if (parts.length === 1) return first;
  const inner = first.dims.slice(1);
  let data: ort.Tensor['data'];
  if (Array.isArray(first.data)) data = parts.flatMap((p) => p.data as string[]);
  else {
    const make = first.data.constructor as new (length: number) => Typed;
    const out = new make(parts.reduce((n, p) => n + p.data.length, 0));
    let offset = 0;
    for (const p of parts) {
      (out as Typed & { set(a: ArrayLike<number | bigint>, o: number): void }).set(p.data as ArrayLike<number | bigint>, offset);
      offset += p.data.length;
    }
    data = out;
  }
  return new ort.Tensor(first.type, data as Typed, [rows, ...inner]);
}

/** `tensor` cut along its first dimension into pieces of `sizes` rows. */
function split(name: string, tensor: ort.Tensor, sizes: number[], rows: number): ort.Tensor[] {
  if (sizes.length === 1) return [tensor];
  if (tensor.dims[0] !== rows) throw new Error(`output ${name} has ${tensor.dims[0]} rows for a batch of ${rows}: the model does not batch along its first dimension`);
  const inner = tensor.dims.slice(1);
  const width = inner.reduce((a, b) => a * b, 1);
  const pieces: ort.Tensor[] = [];
  let offset = 0;
  for (const n of sizes) {
    const data = tensor.data.slice(offset * width, (offset + n) * width);
    pieces.push(new ort.Tensor(tensor.type, data as Typed, [n, ...inner]));
    offset += n;
  }
  return pieces;
}

let alone = 0;

/**
 * The request's key: requests of one model share a batch only when every input has the same type and per-row shape.
 * Feeds that cannot be cut along a common first dimension of `rows` (a scalar input, inputs of different first
 * sizes) get a key of their own: they run alone, as sent.
 */
export function shapeKey(feeds: Feeds, rows: number): string {
  let key = '';
  for (const name in feeds) {
    const t = feeds[name]!;
    if (t.dims.length === 0 || t.dims[0] !== rows) return `alone ${++alone}`;
    key += `${name}:${t.type}:${t.dims.slice(1).join('x')};`;
  }
  return key;
}

/** A batcher for `model`: one `model.run` per batch, with the simulated model time it spent on the batch's spans. */
export function modelBatcher(model: Model, config: Config['model'], spans: SpanStarter, instruments: Instruments): ModelBatcher {
  return new Batcher<Feeds, Outputs>(
    model.info.name,
    batchOptions(model, config),
    async (inputs, rows) => {
      const feeds: Feeds = {};
      for (const name in inputs[0]!) feeds[name] = concat(inputs.map((f) => f[name]!), rows);
      const sizes = inputs.map((f) => Object.values(f)[0]?.dims[0] ?? 0);
      const result = await model.run(feeds);
      const outputs: Outputs[] = inputs.map(() => ({}));
      for (const [name, tensor] of Object.entries(result.outputs)) {
        split(name, tensor, sizes, rows).forEach((piece, i) => (outputs[i]![name] = piece));
      }
      return { outputs, attributes: { [ATTR.simulatedLatencyMs]: Math.round(result.simulatedLatencyMs * 1000) / 1000 } };
    },
    spans,
    instruments,
  );
}

/**
 * One batcher per loaded model, and their totals as /health shows them. Made with the app (tests read it at
 * once), filled when the models are loaded.
 */
export class ModelBatchers {
  readonly #byName = new Map<string, ModelBatcher>();

  add(model: Model, config: Config['model'], spans: SpanStarter, instruments: Instruments): void {
    this.#byName.set(model.info.name, modelBatcher(model, config, spans, instruments));
  }

  get(name: string): ModelBatcher | undefined {
    return this.#byName.get(name);
  }

  /** Queues `feeds` (batch dimension first, `rows` rows) for model `name`'s next batch. */
  submit(name: string, feeds: Feeds, rows: number, attributes: Attributes, parent: Context): { done: Promise<Served<Outputs>>; waiting: boolean; cancel: () => void } {
    return this.#byName.get(name)!.submit({ input: feeds, rows, key: shapeKey(feeds, rows), attributes, parent });
  }

  get inFlight(): number {
    let n = 0;
    for (const b of this.#byName.values()) n += b.inFlight;
    return n;
  }

  get queued(): number {
    let n = 0;
    for (const b of this.#byName.values()) n += b.queued;
    return n;
  }

  get rejected(): number {
    let n = 0;
    for (const b of this.#byName.values()) n += b.rejected;
    return n;
  }

  flush(): void {
    for (const b of this.#byName.values()) b.flush();
  }

  async close(timeoutMs: number): Promise<void> {
    await Promise.all([...this.#byName.values()].map((b) => b.close(timeoutMs)));
  }
}
