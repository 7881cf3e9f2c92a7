// Scenario 3, short version: SIGTERM under load, as a rolling update sends it. Readiness goes false at once, the
// listener stays open for SHUTDOWN_DELAY_MS, every accepted request completes, every answered request's trace is
// exported, exit 0 within the grace period. Long version: node scripts/reliability/run.ts sigterm --delay 5000.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { runSigterm, type SigtermResult } from '../../scripts/reliability/scenarios.ts';

describe('SIGTERM under load (100 req/s, 300 ms model, 1.5 s drain delay)', () => {
  const o = { rate: 100, latencyMs: 300, loadSeconds: 2, shutdownDelayMs: 1_500, shutdownTimeoutMs: 8_000, trafficAfterSigtermMs: 500 };
  let r: SigtermResult;
  before(async () => {
    r = await runSigterm(o);
    console.log(`FIGURE sigterm: ${r.figure}`);
  });

  test('readiness turns false at once', () => {
    assert.ok(r.readinessFalseAfterMs < 500, `readiness false after ${r.readinessFalseAfterMs} ms`);
  });

  test('every accepted request completes with 200: no reset, no 5xx', () => {
    assert.ok(r.run.sent > 100);
    assert.equal(r.run.completed, r.run.sent);
    assert.deepEqual(r.run.statuses, { '200': r.run.sent });
    assert.deepEqual(r.run.errors, { timeout: 0, refused: 0, reset: 0, other: 0 });
  });

  test('new connections are served during the drain delay and refused only after it', () => {
    assert.equal(r.newConnectionDuringDelay, 200);
    assert.equal(r.newConnectionAfterDelay, 'ECONNREFUSED');
  });

  test('every answered request has its trace exported before exit', () => {
    assert.equal(r.tracesDelivered, r.run.ids.length);
    assert.ok(r.final !== null);
    assert.equal(r.final.spans_exported, r.final.spans_ended);
    assert.equal(r.final.spans_export_failed, 0);
  });

  test('the process exits 0 within SHUTDOWN_DELAY_MS + SHUTDOWN_TIMEOUT_MS', () => {
    assert.equal(r.exitCode, 0);
    assert.ok(r.exitAfterMs < o.shutdownDelayMs + o.shutdownTimeoutMs, `exit after ${r.exitAfterMs} ms`);
  });
});
