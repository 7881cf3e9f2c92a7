// Admission control (src/service/admission.ts): at most `concurrency` run, at most `maxQueue` wait in arrival
// order, and beyond that acquire() throws 503 ERR_OVERLOADED at once and counts the refusal.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { Admission } from '../../src/service/admission.ts';
import { AppError } from '../../src/service/errors.ts';

function overloaded(err: unknown): true {
  assert.ok(err instanceof AppError);
  assert.equal(err.code, 'ERR_OVERLOADED');
  assert.equal(err.statusCode, 503);
  return true;
}

describe('Admission', () => {
  test('the first `concurrency` callers run at once, without a promise', () => {
    const a = new Admission(3, 2);
    for (let i = 1; i <= 3; i++) {
      assert.equal(a.acquire(), undefined);
      assert.equal(a.inFlight, i);
    }
    assert.equal(a.queued, 0);
    assert.equal(a.rejected, 0);
  });

  test('the next `maxQueue` callers wait; the one after is refused with 503 ERR_OVERLOADED and counted', () => {
    const a = new Admission(2, 3);
    a.acquire();
    a.acquire();
    for (let i = 1; i <= 3; i++) {
      assert.ok(a.acquire() instanceof Promise);
      assert.equal(a.queued, i);
    }
    assert.throws(() => a.acquire(), overloaded);
    assert.throws(() => a.acquire(), overloaded);
    assert.equal(a.rejected, 2);
    assert.equal(a.inFlight, 2);
    assert.equal(a.queued, 3);
  });

  test('with MAX_QUEUE 0 everything beyond the running slots is refused', () => {
    const a = new Admission(1, 0);
    assert.equal(a.acquire(), undefined);
    assert.throws(() => a.acquire(), overloaded);
    assert.equal(a.rejected, 1);
    assert.equal(a.queued, 0);
  });

  test('a waiter runs only when a slot is released, and waiters run in arrival order', async () => {
    const a = new Admission(1, 10);
    a.acquire();
    const order: number[] = [];
    for (let i = 0; i < 3; i++) void a.acquire()!.then(() => order.push(i));
    await tick();
    assert.deepEqual(order, []);
    a.release();
    await tick();
    assert.deepEqual(order, [0]);
    assert.equal(a.inFlight, 1, 'the slot passed to the waiter');
    assert.equal(a.queued, 2);
    a.release();
    a.release();
    await tick();
    assert.deepEqual(order, [0, 1, 2]);
    assert.equal(a.inFlight, 1);
    assert.equal(a.queued, 0);
  });

  test('a release with nobody waiting frees the slot for the next caller', () => {
    const a = new Admission(2, 0);
    a.acquire();
    a.acquire();
    a.release();
    assert.equal(a.inFlight, 1);
    assert.equal(a.acquire(), undefined);
    assert.equal(a.inFlight, 2);
    a.release();
    a.release();
    assert.equal(a.inFlight, 0);
  });

  test('a queue freed after being full admits waiters again', () => {
    const a = new Admission(1, 1);
    a.acquire();
    void a.acquire();
    assert.throws(() => a.acquire(), overloaded);
    a.release(); // the waiter takes the slot; the queue is empty again
    assert.ok(a.acquire() instanceof Promise);
    assert.equal(a.queued, 1);
    assert.equal(a.rejected, 1);
  });

  test('order and counts hold across the queue compaction (thousands of waiters)', async () => {
    const a = new Admission(1, 5_000);
    a.acquire();
    const order: number[] = [];
    for (let i = 0; i < 3_000; i++) void a.acquire()!.then(() => order.push(i));
    for (let i = 0; i < 2_500; i++) a.release(); // past 1,024 served and more than half the array: compacts
    assert.equal(a.queued, 500);
    for (let i = 3_000; i < 3_100; i++) void a.acquire()!.then(() => order.push(i));
    assert.equal(a.queued, 600);
    for (let i = 0; i < 600; i++) a.release();
    await tick();
    assert.equal(order.length, 3_100);
    assert.ok(order.every((v, i) => v === i), 'waiters ran out of order');
    assert.equal(a.queued, 0);
    assert.equal(a.inFlight, 1);
    a.release();
    assert.equal(a.inFlight, 0);
  });

  test('under a burst of concurrent work, never more than `concurrency` run and exactly the excess is refused', async () => {
    const a = new Admission(4, 8);
    let running = 0;
    let peak = 0;
    const work = async (ms: number) => {
      const wait = a.acquire();
      if (wait !== undefined) await wait;
      try {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, ms));
      } finally {
        running--;
        a.release();
      }
    };
    const results = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => work(1 + (i % 5))));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 12);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(refused.length, 18);
    for (const r of refused) overloaded(r.reason);
    assert.equal(peak, 4);
    assert.equal(a.rejected, 18);
    assert.equal(a.inFlight, 0);
    assert.equal(a.queued, 0);
  });
});
