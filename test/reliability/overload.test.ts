// Scenario 4, short version: twice the model's capacity. Admission control keeps the queue bounded, so admitted
// requests stay within (MODEL_CONCURRENCY + MAX_QUEUE) / capacity + latency, the rest get 503 at once, every
// refusal is counted (/health, requests_rejected_total, the span), and RSS stays flat.
// Long version: node scripts/reliability/run.ts overload --seconds 60.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { runOverload, type OverloadResult } from '../../scripts/reliability/scenarios.ts';

describe('overload at 2x capacity (50 ms model, MODEL_CONCURRENCY=4: 80 req/s; driven at 160 req/s, MAX_QUEUE=16)', () => {
  let r: OverloadResult;
  before(async () => {
    r = await runOverload({ latencyMs: 50, modelConcurrency: 4, maxQueue: 16, factor: 2, seconds: 8 });
    console.log(`FIGURE overload: ${r.figure}`);
  });

  test('admitted requests stay within the configured queue bound', () => {
    // The bound is queue wait + model time (300 ms here). A 503 costs no model time, so its p99 is the floor the
    // machine adds to every answer (event loop, loopback, client); on a shared 2-core machine that floor moves.
    const margin = 150 + r.run.failedLatency.p99;
    assert.ok(r.run.service.p99 <= r.boundMs + margin, `p99 ${r.run.service.p99} ms > ${r.boundMs} + ${margin} ms`);
    // Admitted throughput is the model's capacity, give or take.
    const admittedRate = r.run.ok / 8;
    assert.ok(admittedRate > r.capacity * 0.8 && admittedRate < r.capacity * 1.2, `admitted ${admittedRate} req/s`);
  });

  test('requests beyond the bound are refused at once with 503, and nothing else fails', () => {
    const refused = r.run.statuses['503'] ?? 0;
    assert.ok(refused > r.run.sent * 0.3, `${refused} refused of ${r.run.sent}`);
    assert.equal(r.run.failed, refused, JSON.stringify({ s: r.run.statuses, e: r.run.errors }));
    // "At once": the median 503 takes far less than the model's 50 ms, and less than half the admitted median.
    assert.ok(r.run.failedLatency.p50 < 50 && r.run.failedLatency.p50 < r.run.service.p50 / 2, `503 p50 ${r.run.failedLatency.p50} ms, admitted p50 ${r.run.service.p50} ms`);
  });

  test('every refusal is counted on /health, in requests_rejected_total and on the span', () => {
    const refused = r.run.statuses['503'] ?? 0;
    assert.equal(r.healthRejected, refused);
    assert.equal(r.metricRejected, refused);
    assert.equal(r.spansOverloaded, refused);
  });

  test('RSS stays flat under sustained overload, and the process exits 0', () => {
    assert.ok(r.rssSecondHalfMiB <= r.rssFirstHalfMiB + 48, `RSS ${r.rssFirstHalfMiB} -> ${r.rssSecondHalfMiB} MiB`);
    assert.equal(r.exitCode, 0);
  });
});
