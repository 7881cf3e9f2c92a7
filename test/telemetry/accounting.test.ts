// ExportAccount (src/telemetry/accounting.ts): failures counted on every call but warned about at most once every
// 10 s, and status() deriving what was dropped (when the path does not count drops itself) without ever going negative.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ExportAccount, NO_EXPORT } from '../../src/telemetry/accounting.ts';

const START = Date.UTC(2025, 10, 24, 12, 0, 0);

function account(what = 'span') {
  const warnings: { msg: string; err: unknown }[] = [];
  return { account: new ExportAccount(what, (msg, err) => void warnings.push({ msg, err })), warnings };
}

describe('ExportAccount.fail', () => {
  test('counts every failure and warns about the first at once, with the running count and the error', (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: START });
    const { account: a, warnings } = account('log record');
    const err = new Error('UNAVAILABLE');
    a.fail(3, err);
    assert.equal(a.failed, 3);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.msg, 'OTLP log record export failed (3 log records failed so far); requests are still served');
    assert.equal(warnings[0]!.err, err);
  });

  test('warns at most once every 10 s however many batches fail, then again with the count since the start', (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: START });
    const { account: a, warnings } = account();
    a.fail(1, new Error('first'));
    for (let i = 0; i < 99; i++) {
      t.mock.timers.tick(100); // 99 more failures over the next 9.9 s
      a.fail(2, new Error(`again ${i}`));
    }
    assert.equal(a.failed, 1 + 99 * 2);
    assert.equal(warnings.length, 1, 'one warning in the first 10 s');
    t.mock.timers.tick(200); // 10.1 s after the first warning
    const late = new Error('late');
    a.fail(1, late);
    assert.equal(warnings.length, 2);
    assert.equal(warnings[1]!.msg, 'OTLP span export failed (200 spans failed so far); requests are still served');
    assert.equal(warnings[1]!.err, late);
    t.mock.timers.tick(9_999);
    a.fail(1, late);
    assert.equal(warnings.length, 2, 'the next 10 s start at the second warning');
    t.mock.timers.tick(2);
    a.fail(1, late);
    assert.equal(warnings.length, 3);
  });

  test('each account has its own 10 s: a failing signal does not silence another', (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: START });
    const spans = account('span');
    const logs = account('log record');
    spans.account.fail(1, new Error('spans'));
    t.mock.timers.tick(1_000);
    logs.account.fail(1, new Error('logs'));
    assert.deepEqual([spans.warnings.length, logs.warnings.length], [1, 1]);
  });
});

describe('ExportAccount.status', () => {
  test('with drops counted by the path, dropped is the path\'s count and the rest is reported as it is', () => {
    const { account: a } = account();
    Object.assign(a, { ended: 100, exported: 60, failed: 5, inFlight: 10, dropped: 3 });
    assert.deepEqual(a.status(18, true), { ended: 100, exported: 60, failed: 5, inFlight: 10, queued: 18, dropped: 3 });
  });

  test('without, dropped is what was neither delivered, failed, in flight nor queued', () => {
    const { account: a } = account();
    Object.assign(a, { ended: 100, exported: 60, failed: 5, inFlight: 10, dropped: 99 });
    assert.deepEqual(a.status(18, false), { ended: 100, exported: 60, failed: 5, inFlight: 10, queued: 18, dropped: 7 });
  });

  test('dropped is never negative, even when the queue length is read before the counts catch up', () => {
    const { account: a } = account();
    Object.assign(a, { ended: 10, exported: 8, failed: 0, inFlight: 2 });
    assert.equal(a.status(5, false).dropped, 0);
  });

  test('for any counts, dropped is never negative and, when derived, completes ended exactly whenever it can', () => {
    const count = fc.nat({ max: 1_000_000 });
    fc.assert(
      fc.property(count, count, count, count, count, count, fc.boolean(), (ended, exported, failed, inFlight, queued, dropped, counted) => {
        const { account: a } = account();
        Object.assign(a, { ended, exported, failed, inFlight, dropped });
        const s = a.status(queued, counted);
        assert.ok(s.dropped >= 0);
        if (counted) assert.equal(s.dropped, dropped);
        else if (exported + failed + inFlight + queued <= ended) assert.equal(s.exported + s.failed + s.inFlight + s.queued + s.dropped, ended);
        else assert.equal(s.dropped, 0);
      }),
    );
  });

  test('a new account and NO_EXPORT report nothing', () => {
    const { account: a } = account();
    assert.deepEqual(a.status(0, false), NO_EXPORT);
    assert.deepEqual(a.status(0, true), NO_EXPORT);
    assert.ok(Object.isFrozen(NO_EXPORT));
  });
});
