// Dynamic batching, as Triton's dynamic batcher does it: requests for the same model and input shape wait in a
// queue and run as one model call when the batch holds `maxBatchSize` rows or its oldest request has waited
// `maxQueueDelayUs`; at most `concurrency` batches execute at once (Triton's instance count). With a delay of 0 a
// batch starts as soon as an instance is free, with whatever is queued: alone when the model is idle, batched under
// load. Admission stays: past `maxQueue` waiting requests a new one is refused at once (503 + Retry-After).
// Telemetry: each request that waits gets a `queue` span, each request an `inference` span; each batch a root `batch`
// span linked to the server span of every request it serves, and every such server span links back to it.
import { SpanStatusCode, trace, type Attributes, type Context, type Link, type Span, type SpanContext } from '@opentelemetry/api';
import { AppError } from './errors.ts';
import { ATTR, SPAN, type Instruments, type SpanStarter } from '../telemetry/catalogue.ts';

export interface BatcherOptions {
  /** Most rows in one batch; 1 turns batching off. A request of more rows than this is refused by its caller. */
  readonly maxBatchSize: number;
  /** Longest a request waits for its batch to fill while an instance is free, microseconds. */
  readonly maxQueueDelayUs: number;
  /** Batches executing at once. */
  readonly concurrency: number;
  /** Requests waiting at most (beyond the ones a free instance takes at once); more are refused with ERR_OVERLOADED. */
  readonly maxQueue: number;
  /** Triton's preferred_batch_size: a batch of one of these sizes starts without waiting for the delay. */
  readonly preferredBatchSizes?: readonly number[];
}

/** What the model call returns for a batch: one output per request, and attributes for the batch's spans. */
export interface BatchResult<O> {
  readonly outputs: O[];
  readonly attributes?: Attributes;
}

/** Runs one batch: `inputs` in submission order, all of one shape. */
export type ExecuteBatch<I, O> = (inputs: I[], rows: number) => Promise<BatchResult<O>>;

/** A request's place in the batcher: what `submit` takes. */
export interface Submission<I> {
  readonly input: I;
  /** Rows the request brings: the slots it takes in a batch (it always rides whole, never split). */
  readonly rows: number;
  /** Requests of equal keys may share a batch: the model and the shape of a row. */
  readonly key: string;
  /** Attributes of the request's queue and inference spans and of its batch's span (model, shape). */
  readonly attributes: Attributes;
  /** The request's context: its server span is linked to the batch, its queue and inference spans are children. */
  readonly parent: Context;
}

/** What a request gets back: its output and how long it waited. */
export interface Served<O> {
  readonly output: O;
  readonly queueMs: number;
}

const State = { Queued: 0, Running: 1, Settled: 2 } as const;
type State = (typeof State)[keyof typeof State];

class Job<I, O> {
  state: State = State.Queued;
  readonly enqueuedAt = performance.now();
  /** Started only if the request did not start at once: a request that never waited has no queue span. */
  queueSpan: Span | undefined;
  inferenceSpan: Span | undefined;
  queueMs = 0;
  readonly sub: Submission<I>;
  readonly resolve: (served: Served<O>) => void;
  readonly reject: (err: unknown) => void;
  constructor(sub: Submission<I>, resolve: (served: Served<O>) => void, reject: (err: unknown) => void) {
    this.sub = sub;
    this.resolve = resolve;
    this.reject = reject;
  }
}

/** The requests of one key, oldest first. */
class Queue<I, O> {
  readonly key: string;
  readonly attributes: Attributes;
  jobs: Job<I, O>[] = [];
  rows = 0;
  constructor(key: string, attributes: Attributes) {
    this.key = key;
    this.attributes = attributes;
  }
}

export class Batcher<I, O> {
  private readonly options: BatcherOptions;
  private readonly execute: ExecuteBatch<I, O>;
  private readonly spans: SpanStarter;
  private readonly instruments: Instruments;
  private readonly modelName: string;
  private readonly metricAttrs: Attributes;
  private readonly queues = new Map<string, Queue<I, O>>();
  private readonly delayMs: number;
  /** Ascending, each at most maxBatchSize. */
  private readonly preferred: readonly number[];
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private running = 0;
  private pending = 0;
  private executing = 0;
  /** Ignores the delay: set while the service drains, so nothing waits for a batch to fill. */
  private flushing = false;
  private idle: (() => void)[] = [];
  rejected = 0;

  constructor(modelName: string, options: BatcherOptions, execute: ExecuteBatch<I, O>, spans: SpanStarter, instruments: Instruments) {
    this.modelName = modelName;
    this.options = options;
    this.execute = execute;
    this.spans = spans;
    this.instruments = instruments;
    this.delayMs = options.maxQueueDelayUs / 1000;
    this.preferred = [...(options.preferredBatchSizes ?? [])].filter((n) => n <= options.maxBatchSize).sort((a, b) => a - b);
    this.metricAttrs = { [ATTR.modelName]: modelName };
    instruments.pendingRequests.create(modelName, this.metricAttrs, 0);
  }

  get concurrency(): number {
    return this.options.concurrency;
  }

  get maxBatchSize(): number {
    return this.options.maxBatchSize;
  }

  get maxQueue(): number {
    return this.options.maxQueue;
  }

  /** Requests waiting for a batch. */
  get queued(): number {
    return this.pending;
  }

  /** Requests in batches that are executing. */
  get inFlight(): number {
    return this.executing;
  }

  /** Batches executing. */
  get batchesRunning(): number {
    return this.running;
  }

  /**
   * Queues a request; `done` resolves with its output once its batch has run, rejects with the batch's error;
   * `waiting` is false when its batch started at once (then it has no queue span). Throws
   * ERR_OVERLOADED at once when every instance is busy and `maxQueue` requests wait already.
   */
  submit(sub: Submission<I>): { done: Promise<Served<O>>; waiting: boolean; cancel: () => void } {
    if (this.running >= this.options.concurrency && this.pending >= this.options.maxQueue) {
      this.rejected++;
      this.outcome('rejected', sub.rows);
      throw new AppError('ERR_OVERLOADED');
    }
    let queue = this.queues.get(sub.key);
    if (queue === undefined) {
      queue = new Queue<I, O>(sub.key, sub.attributes);
      this.queues.set(sub.key, queue);
    }
    let job!: Job<I, O>;
    const done = new Promise<Served<O>>((resolve, reject) => {
      job = new Job(sub, resolve, reject);
    });
    queue.jobs.push(job);
    queue.rows += sub.rows;
    this.pending++;
    this.instruments.pendingRequests.add(this.modelName, 1);
    this.pump();
    const waiting = job.state === State.Queued;
    if (waiting) job.queueSpan = this.spans.stage(SPAN.queue, sub.attributes, sub.parent);
    return { done, waiting, cancel: () => this.cancel(job) };
  }

  /** Takes a request that has not started out of its queue (its client went away); later ones are unaffected. */
  private cancel(job: Job<I, O>, err: Error = new AppError('ERR_CLIENT_CLOSED')): void {
    if (job.state !== State.Queued) return;
    const queue = this.queues.get(job.sub.key)!;
    queue.jobs.splice(queue.jobs.indexOf(job), 1);
    queue.rows -= job.sub.rows;
    if (queue.jobs.length === 0) this.queues.delete(queue.key);
    this.dequeued(job);
    job.queueSpan?.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
    job.queueSpan?.end();
    job.state = State.Settled;
    job.reject(err);
    this.settleIdle();
  }

  /**
   * Starts batches while an instance is free and a queue is ready (full, or its oldest request has waited the
   * delay); otherwise arms one timer for the earliest delay to expire.
   */
  private pump(): void {
    while (this.running < this.options.concurrency) {
      const now = performance.now();
      let best: Queue<I, O> | undefined;
      let wake = Number.POSITIVE_INFINITY;
      for (const q of this.queues.values()) {
        if (q.jobs.length === 0) continue;
        const oldest = q.jobs[0]!.enqueuedAt;
        const ready = this.flushing || q.rows >= this.options.maxBatchSize || q.rows >= (this.preferred[0] ?? Infinity) || now - oldest >= this.delayMs;
        if (!ready) wake = Math.min(wake, oldest + this.delayMs);
        else if (best === undefined || oldest < best.jobs[0]!.enqueuedAt) best = q;
      }
      if (best === undefined) {
        this.arm(wake);
        return;
      }
      this.start(best);
    }
  }

  private arm(at: number): void {
    if (at === Number.POSITIVE_INFINITY || at >= this.timerAt) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Number.POSITIVE_INFINITY;
      this.pump();
    }, Math.max(0, at - performance.now()));
    this.timer.unref();
  }

  private dequeued(job: Job<I, O>): void {
    this.pending--;
    this.instruments.pendingRequests.add(this.modelName, -1);
    job.queueMs = performance.now() - job.enqueuedAt;
  }

  /**
   * Takes the oldest requests of `queue` that fit in one batch and runs them: up to MAX_BATCH_SIZE rows, or up to
   * the largest preferred size the queue reaches when it holds less than that.
   */
  private start(queue: Queue<I, O>): void {
    let limit = this.options.maxBatchSize;
    if (queue.rows < limit) limit = this.preferred.findLast((p) => p <= queue.rows) ?? limit;
    let rows = 0;
    let n = 0;
    while (n < queue.jobs.length && rows + queue.jobs[n]!.sub.rows <= limit) rows += queue.jobs[n++]!.sub.rows;
    // A request larger than the batch size is refused by its route; should one arrive, it runs alone.
    if (n === 0) rows = queue.jobs[n++]!.sub.rows;
    const jobs = queue.jobs.splice(0, n);
    queue.rows -= rows;
    if (queue.jobs.length === 0) this.queues.delete(queue.key);

    const links: Link[] = [];
    for (const job of jobs) {
      const sc = trace.getSpanContext(job.sub.parent);
      if (sc !== undefined && trace.isSpanContextValid(sc)) links.push({ context: sc });
    }
    const batchSpan = this.spans.batch(SPAN.batch, { ...queue.attributes, [ATTR.batchSize]: rows, [ATTR.batchRequests]: jobs.length }, links);
    const batchContext: SpanContext = batchSpan.spanContext();
    const backLink: Link = { context: batchContext };
    const inputs: I[] = [];
    for (const job of jobs) {
      this.dequeued(job);
      job.state = State.Running;
      job.queueSpan?.end();
      if (!this.instruments.queueDurationMs.record(this.modelName, job.queueMs)) this.instruments.queueDurationMs.create(this.modelName, this.metricAttrs, job.queueMs);
      trace.getSpan(job.sub.parent)?.addLink(backLink);
      job.inferenceSpan = this.spans.stage(SPAN.inference, job.sub.attributes, job.sub.parent);
      inputs.push(job.sub.input);
    }
    this.running++;
    this.executing += jobs.length;
    const started = performance.now();
    let result: Promise<BatchResult<O>>;
    try {
      result = this.execute(inputs, rows);
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      (r) => this.finish(jobs, rows, batchSpan, started, r, undefined),
      (err: unknown) => this.finish(jobs, rows, batchSpan, started, undefined, err),
    );
  }

  private finish(jobs: Job<I, O>[], rows: number, batchSpan: Span, started: number, result: BatchResult<O> | undefined, err: unknown): void {
    const computeMs = performance.now() - started;
    const { computeDurationMs, batchSize, executions } = this.instruments;
    if (!computeDurationMs.record(this.modelName, computeMs)) computeDurationMs.create(this.modelName, this.metricAttrs, computeMs);
    if (!batchSize.record(this.modelName, rows)) batchSize.create(this.modelName, this.metricAttrs, rows);
    if (!executions.add(this.modelName, 1)) executions.create(this.modelName, this.metricAttrs, 1);
    if (result?.attributes !== undefined) batchSpan.setAttributes(result.attributes);
    if (result !== undefined && result.outputs.length !== jobs.length) {
      err = new Error(`the model returned ${result.outputs.length} outputs for a batch of ${jobs.length} requests`);
      result = undefined;
    }
    if (err !== undefined) {
      batchSpan.recordException(err as Error);
      batchSpan.setStatus({ code: SpanStatusCode.ERROR });
    }
    batchSpan.end();
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i]!;
      const span = job.inferenceSpan!;
      job.state = State.Settled;
      this.outcome(result === undefined ? 'error' : 'success', job.sub.rows);
      if (result === undefined) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
        job.reject(err);
      } else {
        if (result.attributes !== undefined) span.setAttributes(result.attributes);
        span.end();
        job.resolve({ output: result.outputs[i]!, queueMs: job.queueMs });
      }
    }
    this.running--;
    this.executing -= jobs.length;
    this.pump();
    this.settleIdle();
  }

  /** predictions_by_model: rows by outcome (a request whose client left before its batch ran is not a prediction). */
  private outcome(outcome: 'success' | 'error' | 'rejected', rows: number): void {
    const key = `${this.modelName}\0${outcome}`;
    if (!this.instruments.predictionsByModel.add(key, rows)) this.instruments.predictionsByModel.create(key, { ...this.metricAttrs, outcome }, rows);
  }

  /** From now on no request waits for its batch to fill (the service is draining). */
  flush(): void {
    this.flushing = true;
    this.pump();
  }

  /**
   * Resolves once nothing is queued or executing: flushes first, so queued requests run now. Requests still
   * queued when `timeoutMs` passes (every instance stuck) are refused with ERR_SHUTTING_DOWN.
   */
  async close(timeoutMs = 10_000): Promise<void> {
    this.flush();
    if (this.pending > 0 || this.running > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.idle.push(resolve)),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
    }
    for (const queue of [...this.queues.values()]) {
      for (const job of [...queue.jobs]) this.cancel(job, new AppError('ERR_SHUTTING_DOWN'));
    }
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  private settleIdle(): void {
    if (this.pending > 0 || this.running > 0 || this.idle.length === 0) return;
    for (const resolve of this.idle.splice(0)) resolve();
  }
}
