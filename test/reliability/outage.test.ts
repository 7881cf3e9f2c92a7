// Scenario 1, short version: a Collector outage in the middle of an open-model run. Requests must not notice, memory
// must stay bounded, export must resume on its own, and every span that did not arrive must be counted.
// Long version: node scripts/reliability/run.ts outage --rate 500 --seconds 60 --outage 20 (docs/RELIABILITY.md).
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { runOutage, SPANS_PER_PREDICTION, type OutageResult } from '../../scripts/reliability/scenarios.ts';

describe('a Collector outage during an open-model run (200 req/s, 15 s, receiver down for 5 s)', () => {
  let r: OutageResult;
  before(async () => {
    r = await runOutage({ rate: 200, seconds: 15, baselineSeconds: 8, outageAtSeconds: 4, outageSeconds: 5, latencyMs: 5, resumeWaitMs: 20_000 });
    console.log(`FIGURE outage: ${r.figure}`);
  });

  test('no request fails, with or without the Collector', () => {
    assert.equal(r.unexpectedExit, null);
    assert.equal(r.baseline.failed, 0, JSON.stringify(r.baseline.errors));
    assert.equal(r.outage.failed, 0, JSON.stringify({ statuses: r.outage.statuses, errors: r.outage.errors }));
    assert.deepEqual(Object.keys(r.outage.statuses), ['200']);
  });

  test('p99 latency stays close to the run without an outage', () => {
    // The issue asks for 10 %; on a shared 2-core machine a 15 s run's p99 moves more than that on its own, so the
    // short version allows x3 or +50 ms and prints the ratio; the long version is the one to quote.
    const bound = Math.max(r.baseline.latency.p99 * 3, r.baseline.latency.p99 + 50);
    assert.ok(r.outage.latency.p99 <= bound, `p99 ${r.outage.latency.p99} ms > ${bound} ms`);
  });

  test('memory stays bounded while spans cannot be delivered', () => {
    // Bounded by OTEL_BSP_MAX_QUEUE_SIZE (2048 spans) plus the batches the exporter holds while it retries.
    assert.ok(r.rssOutagePeakMiB <= r.rssBaselinePeakMiB + 96, `RSS ${r.rssOutagePeakMiB} MiB vs baseline ${r.rssBaselinePeakMiB} MiB`);
  });

  test('export resumes on its own after the Collector restarts', () => {
    assert.ok(Number.isFinite(r.resumeAfterMs), 'no span reached the restarted receiver within 20 s');
  });

  test('every span the receiver did not get is counted as failed or dropped, and the process exits 0', () => {
    const f = r.final;
    assert.ok(f !== null, 'no "Shutdown complete" line with the final counters');
    assert.equal(r.exitCode, 0);
    assert.equal(f.spans_ended, f.spans_exported + f.spans_export_failed + f.spans_queued_or_dropped);
    const counted = f.spans_export_failed + f.spans_queued_or_dropped;
    assert.ok(r.spansReceived <= f.spans_ended, `received ${r.spansReceived} > ended ${f.spans_ended}`);
    assert.ok(f.spans_ended - r.spansReceived <= counted, `lost ${f.spans_ended - r.spansReceived}, counted ${counted}`);
    // The load generator's audit: a trace with no span at the receiver lost all its spans, and they are counted.
    assert.ok(r.tracesMissing * SPANS_PER_PREDICTION <= counted, `${r.tracesMissing} traces missing, ${counted} spans counted`);
    assert.ok(r.tracesDelivered > 0);
  });

  test('spans lost to the outage are counted in an exported metric, not only on /health', () => {
    // telemetry_export_items_total{signal, outcome} (README catalogue); builds before it had /health only.
    assert.ok(r.metricNames.includes('telemetry_export_items_total'), `no export counter among: ${r.metricNames.join(', ')}`);
  });
});
