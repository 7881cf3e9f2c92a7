// Wakes the event loop at a sub-millisecond instant without spinning on it.
//
// Node's timers have a 1 ms grain and fire up to 1 ms late, so an open-model generator that must send request i at
// t0 + i/rate used to wait the last fraction of a millisecond in setImmediate turns: at 1,000 req/s that is the
// whole time, a core kept 99 % busy polling. On a shared core that busy loop takes the CPU from whatever else runs
// there (the benchmark's OTLP sink), and every time the scheduler gives that neighbour a slice the generator is
// off the CPU and the responses then arriving are timed late (docs/PERFORMANCE.md, P4). Here a worker thread
// sleeps on a futex until the instant (Atomics.wait takes fractional milliseconds) and posts a message, which
// wakes the main thread's epoll at once; the main thread sleeps in the meantime and still sees every response as
// it arrives. Nothing on npm does this; it is thirty lines.
import { Worker } from 'node:worker_threads';

const WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const seq = new Int32Array(workerData, 0, 1);
const at = new Float64Array(workerData, 8, 1);
const now = () => Number(process.hrtime.bigint()) / 1e6;
let seen = 0;
for (;;) {
  Atomics.wait(seq, 0, seen);
  seen = Atomics.load(seq, 0);
  if (seen < 0) break;
  let superseded = false;
  for (;;) {
    const left = at[0] - now();
    if (left <= 0) break;
    // A new wake-up (or close) changes seq and ends the wait early.
    if (Atomics.wait(seq, 0, seen, left) !== 'timed-out') { superseded = true; break; }
  }
  if (!superseded) parentPort.postMessage(seen);
}
`;

/** The clock the worker reads, in ms: the same in both threads, unlike performance.now() (own origin per thread). */
const hrMs = (): number => Number(process.hrtime.bigint()) / 1e6;

export class Pacer {
  readonly #shared = new SharedArrayBuffer(16);
  readonly #seq = new Int32Array(this.#shared, 0, 1);
  readonly #at = new Float64Array(this.#shared, 8, 1);
  readonly #worker: Worker;
  #ready = false;
  #pending: (() => void) | null = null;
  #closed = false;

  constructor() {
    this.#worker = new Worker(WORKER, { eval: true, workerData: this.#shared, execArgv: [] });
    this.#worker.unref();
    this.#worker.once('online', () => (this.#ready = true));
    this.#worker.on('message', (n: number) => {
      if (n !== Atomics.load(this.#seq, 0) || this.#pending === null) return; // a cancelled or superseded wake-up
      const fn = this.#pending;
      this.#pending = null;
      fn();
    });
  }

  /** False until the worker runs: callers wait some other way meanwhile. */
  get ready(): boolean {
    return this.#ready && !this.#closed;
  }

  /** Calls `fn` at `when` (a performance.now() instant), replacing any wake-up not yet delivered. */
  wakeAt(when: number, fn: () => void): void {
    this.#pending = fn;
    // Converted at each call: performance.now() and hrtime drift apart (0.7 ms in 200 ms, measured).
    this.#at[0] = hrMs() + (when - performance.now());
    Atomics.add(this.#seq, 0, 1);
    Atomics.notify(this.#seq, 0);
  }

  cancel(): void {
    this.#pending = null;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending = null;
    Atomics.store(this.#seq, 0, -1_000_000);
    Atomics.notify(this.#seq, 0);
    void this.#worker.terminate();
  }
}
