// Admission control for the model: at most `concurrency` predictions run at once, at most `maxQueue` wait, and
// beyond that a request is refused at once (503 + Retry-After) instead of letting latency and memory grow.
// Written by hand: p-limit / p-queue bound concurrency but not the queue, and refusing is the point here.
import { AppError } from './errors.ts';

export class Admission {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private head = 0;
  readonly concurrency: number;
  readonly maxQueue: number;
  rejected = 0;

  constructor(concurrency: number, maxQueue: number) {
    this.concurrency = concurrency;
    this.maxQueue = maxQueue;
  }

  get queued(): number {
    return this.waiting.length - this.head;
  }

  get inFlight(): number {
    return this.running;
  }

  /** Resolves when the caller may run (call `release()` after); throws ERR_OVERLOADED when the queue is full. */
  acquire(): Promise<void> | undefined {
    if (this.running < this.concurrency) {
      this.running++;
      return undefined; // the common case allocates nothing
    }
    if (this.queued >= this.maxQueue) {
      this.rejected++;
      throw new AppError('ERR_OVERLOADED');
    }
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    if (this.head < this.waiting.length) {
      const next = this.waiting[this.head]!;
      this.waiting[this.head++] = undefined as unknown as () => void;
      // Compact now and then so the array does not grow without bound.
      if (this.head > 1024 && this.head * 2 > this.waiting.length) {
        this.waiting.splice(0, this.head);
        this.head = 0;
      }
      next(); // the slot passes straight to the next waiter: `running` stays the same
    } else {
      this.running--;
    }
  }
}
