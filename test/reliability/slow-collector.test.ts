// Scenario 2, short version: the Collector answers after 2 s, then refuses with 503 (what memory_limiter does).
// Requests must not slow down, memory must stay bounded, and what could not be delivered must be counted.
// Long version: node scripts/reliability/run.ts slow --rate 200 --phase 20.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { runSlowCollector, type SlowCollectorResult } from '../../scripts/reliability/scenarios.ts';

describe('a slow, then refusing Collector over OTLP/HTTP (100 req/s, 5 s per phase)', () => {
  let r: SlowCollectorResult;
  const phase = (m: 'ok' | 'slow' | 'refuse') => r.phases.find((p) => p.mode === m)!;
  before(async () => {
    r = await runSlowCollector({ rate: 100, phaseSeconds: 5, latencyMs: 5, slowMs: 2_000, exportTimeoutMs: 3_000 });
    console.log(`FIGURE slow-collector: ${r.figure}`);
  });

  test('no request fails while the Collector is slow or refusing', () => {
    for (const p of r.phases) assert.equal(p.run.failed, 0, `${p.mode}: ${JSON.stringify({ s: p.run.statuses, e: p.run.errors })}`);
  });

  test('no request slows down: p99 of the slow and refusing phases stays near the healthy phase', () => {
    const ok = phase('ok').run.latency.p99;
    const bound = Math.max(ok * 3, ok + 50); // shared machine: generous, the figure prints the real values
    for (const m of ['slow', 'refuse'] as const) {
      assert.ok(phase(m).run.latency.p99 <= bound, `${m}: p99 ${phase(m).run.latency.p99} ms > ${bound} ms`);
      // A request must never wait for an export: nothing near the 2 s the Collector takes.
      assert.ok(phase(m).run.latency.max < 1_000, `${m}: max ${phase(m).run.latency.max} ms`);
    }
  });

  test('memory stays bounded while exports are slow or refused', () => {
    const ok = phase('ok').rssPeakMiB;
    for (const m of ['slow', 'refuse'] as const) assert.ok(phase(m).rssPeakMiB <= ok + 64, `${m}: RSS ${phase(m).rssPeakMiB} MiB vs ${ok} MiB`);
  });

  test('spans that could not be delivered show on /health, and the books balance at exit', () => {
    const after = phase('refuse').telemetryAfter;
    assert.ok(after.spans_export_failed + after.spans_queued_or_dropped > 0, JSON.stringify(after));
    assert.ok(after.spans_exported < after.spans_ended);
    const f = r.final;
    assert.ok(f !== null);
    assert.equal(r.exitCode, 0);
    assert.equal(f.spans_ended, f.spans_exported + f.spans_export_failed + f.spans_queued_or_dropped);
    // The Collector acknowledged at least what the service counts as exported (more if an answer came too late).
    assert.ok(r.acknowledged.ok + r.acknowledged.slow >= f.spans_exported, JSON.stringify(r.acknowledged));
    assert.equal(r.acknowledged.refuse, 0);
  });
});
