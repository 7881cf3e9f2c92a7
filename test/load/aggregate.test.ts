import assert from 'node:assert/strict';
import { test } from 'node:test';
import { aggregate, bucketize, latencyStats } from '../../src/load/aggregate.ts';
import type { CliOptions } from '../../src/load/args.ts';
import { newHistogram, type LoadOptions, type RunResult } from '../../src/load/engine.ts';
import { parseSlo, type Slo } from '../../src/load/slo.ts';

// Fixed runs built by hand: latencies under 2,048 µs, where the HDR histogram (3 significant digits) is exact, so
// every figure below is computed by hand from the recorded values.
const A = 'a'.repeat(32);
const B = 'b'.repeat(32);

function histogram(valuesUs: number[]) {
  const h = newHistogram();
  for (const v of valuesUs) h.recordValue(v);
  return h;
}

const load: LoadOptions = {
  target: 'http://127.0.0.1:9000/predict',
  method: 'POST',
  body: '{"features":[1]}',
  requests: 16,
  durationMs: null,
  rate: 10,
  concurrency: 4,
  timeoutMs: 1_000,
  propagate: false,
};

function cliFor(options: LoadOptions, slos: Slo[] = []): CliOptions {
  return {
    load: options,
    url: 'http://127.0.0.1:9000',
    fallbackUrl: null,
    warmupMs: 0,
    warmupRequests: 5,
    buckets: [1.2, 1.5],
    json: false,
    out: null,
    quiet: true,
    slos,
    verifyTraces: null,
    verifyWaitMs: 0,
  };
}

/** 16 requests at 10 req/s: 10 answered 200 in 1.0-1.9 ms, 6 failed (404, 503 x2, 301, a reset, a timeout). */
function run(overrides: Partial<RunResult> = {}): RunResult {
  return {
    options: load,
    startedAt: '2026-12-01T10:00:00.000Z',
    durationMs: 2_000,
    sendSpanMs: 1_500,
    sent: 16,
    completed: 16,
    successful: 10,
    failed: 6,
    late: 0,
    dropped: 0,
    interrupted: false,
    latency: histogram([1000, 1100, 1200, 1300, 1400, 1500, 1600, 1700, 1800, 1900]),
    serviceTime: histogram([900, 1000, 1100, 1200, 1300, 1400, 1500, 1600, 1700, 1800]),
    failedLatency: histogram([500, 600, 700, 800, 900, 1000]),
    startLag: histogram([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160]),
    statusCounts: { '200': 10, '301': 1, '404': 1, '503': 2 },
    errorCounts: { timeout: 1, refused: 0, reset: 1, other: 0 },
    retried: 0,
    targets: [],
    traces: { ids: [A, B, A], missing: 1, mismatched: 0 },
    client: {
      wallMs: 2_000,
      cpuUserMs: 300,
      cpuSystemMs: 100,
      // As monitorEventLoopDelay reports them: the 10 ms sampling interval included.
      eventLoopDelayMs: { mean: 10.5, p50: 10.25, p99: 12, max: 9 },
    },
    ...overrides,
  };
}

test('latency statistics of ten requests from 1.0 to 1.9 ms are their exact min, max, mean, deviation and percentiles', () => {
  assert.deepEqual(latencyStats(run().latency), {
    count: 10,
    min: 1,
    max: 1.9,
    mean: 1.45,
    stddev: 0.287,
    p50: 1.4,
    p90: 1.8,
    p95: 1.9,
    p99: 1.9,
    p999: 1.9,
  });
});

test('an empty histogram gives zeros, not NaN or the histogram sentinels', () => {
  assert.deepEqual(latencyStats(newHistogram()), { count: 0, min: 0, max: 0, mean: 0, stddev: 0, p50: 0, p90: 0, p95: 0, p99: 0, p999: 0 });
});

test('a percentile is never reported above the maximum, where the HDR bucket top would exceed it', () => {
  const s = latencyStats(histogram([100_000])); // 100 ms sits in a 64 µs wide HDR bucket whose top is 100.031 ms
  assert.equal(s.max, 100);
  assert.equal(s.p50, 100);
  assert.equal(s.p99, 100);
});

test('buckets count each latency under its upper edge, the last one open, with percentages of the total', () => {
  assert.deepEqual(bucketize(run().latency, [1.2, 1.5]), [
    { label: '0-1.2ms', fromMs: 0, toMs: 1.2, count: 2, percent: 20 },
    { label: '1.2-1.5ms', fromMs: 1.2, toMs: 1.5, count: 3, percent: 30 },
    { label: '1.5+ms', fromMs: 1.5, toMs: null, count: 5, percent: 50 },
  ]);
  assert.deepEqual(
    bucketize(newHistogram(), [50]).map((b) => [b.count, b.percent]),
    [
      [0, 0],
      [0, 0],
    ],
  );
});

test('the summary counts requests, rates, statuses and error classes of the run', () => {
  const s = aggregate(run(), cliFor(load));
  assert.deepEqual(s.requests, { total: 16, sent: 16, completed: 16, answered: 14, successful: 10, failed: 6, late: 0, dropped: 0, retried: 0 });
  // 16 completed in 2 s; 16 sends spread over 1.5 s is 15 intervals of 100 ms: the 10 req/s schedule was kept.
  assert.deepEqual(s.rate, { target: 10, actual: 8, send: 10, shortfall: false });
  assert.deepEqual(s.statusCodes, { '200': 10, '301': 1, '404': 1, '503': 2 });
  assert.deepEqual(s.errors, { timeout: 1, refused: 0, reset: 1, '4xx': 1, '5xx': 2, otherStatus: 1, other: 0 });
  assert.equal(s.latencyMs.count, 10);
  assert.equal(s.serviceTimeMs.p50, 1.3);
  assert.deepEqual([s.failedLatencyMs.count, s.failedLatencyMs.min, s.failedLatencyMs.max], [6, 0.5, 1]);
  assert.deepEqual(s.startLagMs, { p50: 0.08, p99: 0.16, max: 0.16 });
  assert.deepEqual(s.config, {
    target: 'http://127.0.0.1:9000/predict',
    method: 'POST',
    model: 'open',
    targetRate: 10,
    concurrency: 4,
    requests: 16,
    durationMs: null,
    timeoutMs: 1_000,
    warmupMs: 0,
    warmupRequests: 5,
    propagate: false,
    buckets: [1.2, 1.5],
  });
  assert.equal(s.schema, 'load-generator.summary/v1');
  assert.equal(s.startedAt, '2026-12-01T10:00:00.000Z');
});

test('the client block is CPU over wall time and the event-loop delay beyond its 10 ms sampling, floored at zero', () => {
  const s = aggregate(run(), cliFor(load));
  assert.deepEqual(s.client, {
    cpuPercent: 20,
    cpuUserMs: 300,
    cpuSystemMs: 100,
    eventLoopDelayMs: { mean: 0.5, p50: 0.25, p99: 2, max: 0 },
    saturated: false,
  });
});

test('the trace audit counts recorded, unique and duplicated ids, and each problem becomes a warning', () => {
  const s = aggregate(run(), cliFor(load));
  assert.deepEqual(s.traces, { recorded: 3, unique: 2, duplicates: 1, duplicateIds: [A], missing: 1, mismatched: 0, delivery: null });
  assert.deepEqual(s.warnings, ['1 responses repeated a trace id already seen.', '1 responses carried no trace id.']);
  const delivered = aggregate(run(), cliFor(load), { url: 'http://r/debug/traces/lookup', queried: 2, delivered: 1, missing: [B], error: null });
  assert.equal(delivered.traces.delivery?.delivered, 1);
  assert.ok(delivered.warnings.includes('1 of 2 trace ids never reached the receiver.'));
});

test('a send rate under the target is a shortfall, with a warning that names the late and dropped requests', () => {
  // 11 sends over 2 s is 5 req/s against 10.
  const s = aggregate(run({ sent: 11, dropped: 5, late: 3, sendSpanMs: 2_000 }), cliFor(load));
  assert.deepEqual(s.rate, { target: 10, actual: 8, send: 5, shortfall: true });
  assert.equal(s.requests.total, 16);
  assert.equal(
    s.warnings[0],
    'Achieved send rate 5.0 req/s is below the 10 req/s target: 3 requests started late and 5 were dropped because 4 were already in flight (raise --concurrency, or the service cannot keep up).',
  );
});

test('a closed-model run has no send rate, no start lag and no shortfall', () => {
  const closed = { ...load, rate: null };
  const s = aggregate(run({ options: closed }), cliFor(closed));
  assert.equal(s.config.model, 'closed');
  assert.deepEqual(s.rate, { target: null, actual: 8, send: null, shortfall: false });
  assert.equal(s.startLagMs, null);
});

test('the client is called saturated at 90 % CPU only when the service answered something', () => {
  const busy = { wallMs: 2_000, cpuUserMs: 1_500, cpuSystemMs: 300, eventLoopDelayMs: { mean: 10, p50: 10, p99: 10, max: 10 } };
  const answered = aggregate(run({ client: busy }), cliFor(load));
  assert.equal(answered.client.cpuPercent, 90);
  assert.equal(answered.client.saturated, true);
  assert.match(answered.warnings.join('\n'), /The load generator itself is saturated \(CPU 90% of one core, event-loop delay p99 0\.0 ms\)/);

  const refused = aggregate(
    run({
      client: busy,
      successful: 0,
      failed: 16,
      latency: newHistogram(),
      serviceTime: newHistogram(),
      statusCounts: {},
      errorCounts: { timeout: 0, refused: 16, reset: 0, other: 0 },
      traces: { ids: [], missing: 0, mismatched: 0 },
    }),
    cliFor(load),
  );
  assert.equal(refused.requests.answered, 0);
  assert.equal(refused.client.saturated, false);
  assert.deepEqual(refused.warnings, ['No request was answered (16 failed before a response): these figures say nothing about the service.']);
});

test('objectives are checked against the summary: latency in ms, errors as a share of all requests, rate as completed per second', () => {
  const slos = ['p99<1.5ms', 'p50<=1.4ms', 'errors<50%', 'errors<5', 'rate>=8'].map((e) => {
    const r = parseSlo(e);
    assert.ok('slo' in r, e);
    return r.slo;
  });
  const s = aggregate(run(), cliFor(load, slos));
  assert.deepEqual(s.slo, [
    { expr: 'p99<1.5ms', ok: false, actual: 1.9, unit: 'ms' },
    { expr: 'p50<=1.4ms', ok: true, actual: 1.4, unit: 'ms' },
    { expr: 'errors<50%', ok: true, actual: 37.5, unit: '%' },
    { expr: 'errors<5', ok: false, actual: 6, unit: '' },
    { expr: 'rate>=8', ok: true, actual: 8, unit: ' req/s' },
  ]);
});

test('aggregation changes nothing it reads: the same run gives the same summary twice', () => {
  const r = run();
  assert.deepEqual(aggregate(r, cliFor(load)), aggregate(r, cliFor(load)));
  assert.equal(r.latency.totalCount, 10);
});
