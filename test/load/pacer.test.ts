import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Pacer } from '../../src/load/pacer.ts';

const online = async (pacer: Pacer): Promise<void> => {
  const deadline = Date.now() + 5_000;
  while (!pacer.ready) {
    assert.ok(Date.now() < deadline, 'the pacer thread did not start within 5 s');
    await new Promise((r) => setTimeout(r, 5));
  }
};

test('a wake-up comes at its instant, never before, with the event loop free meanwhile', async () => {
  const pacer = new Pacer();
  try {
    await online(pacer);
    const lateness: number[] = [];
    for (let i = 0; i < 50; i++) {
      const when = performance.now() + 0.3 + (i % 5) * 0.1;
      const at = await new Promise<number>((resolve) => pacer.wakeAt(when, () => resolve(performance.now())));
      assert.ok(at >= when, `woken ${(when - at).toFixed(3)} ms early`);
      lateness.push(at - when);
    }
    lateness.sort((a, b) => a - b);
    // A sleep plus a message: well under Node's 1 ms timer grain, with room for a busy test machine.
    assert.ok(lateness[25]! < 0.5, `median lateness ${lateness[25]!.toFixed(3)} ms`);
  } finally {
    pacer.close();
  }
});

test('a new wake-up replaces the one pending, and cancel or close drops it', async () => {
  const pacer = new Pacer();
  try {
    await online(pacer);
    const calls: string[] = [];
    pacer.wakeAt(performance.now() + 0.5, () => calls.push('first'));
    pacer.wakeAt(performance.now() + 0.6, () => calls.push('second'));
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(calls, ['second']);
    pacer.wakeAt(performance.now() + 0.5, () => calls.push('cancelled'));
    pacer.cancel();
    pacer.wakeAt(performance.now() + 0.5, () => calls.push('closed'));
    pacer.close();
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(calls, ['second']);
    assert.equal(pacer.ready, false);
  } finally {
    pacer.close();
  }
});
