import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LatencyStats, Summary } from '../../src/load/aggregate.ts';
import type { CliOptions } from '../../src/load/args.ts';
import {
  formatActual,
  formatConfiguration,
  formatJson,
  formatMs,
  formatProgressBar,
  formatProgressDone,
  formatProgressLine,
  formatResults,
  formatUnanswered,
  formatViolations,
} from '../../src/load/print.ts';

const stats = (o: Partial<LatencyStats>): LatencyStats => ({
  count: 0, min: 0, max: 0, mean: 0, stddev: 0, p50: 0, p90: 0, p95: 0, p99: 0, p999: 0, ...o,
});

/** The guide's Test 7 run, fixed: 500 requests at 50 req/s, 498 answered 200, one 503 and one timeout. */
function summary(): Summary {
  return {
    schema: 'load-generator.summary/v1',
    config: {
      target: 'http://localhost:9002/predict',
      method: 'POST',
      model: 'open',
      targetRate: 50,
      concurrency: 10,
      requests: 500,
      durationMs: null,
      timeoutMs: 10_000,
      warmupMs: 0,
      warmupRequests: 0,
      propagate: true,
      buckets: [50, 100, 150, 200, 250],
    },
    startedAt: '2026-12-01T10:00:00.000Z',
    interrupted: false,
    durationMs: 10_012.5,
    requests: { total: 500, sent: 500, completed: 500, answered: 499, successful: 498, failed: 2, late: 0, dropped: 0, retried: 0 },
    rate: { target: 50, actual: 49.94, send: 50, shortfall: false },
    latencyMs: stats({ count: 498, min: 0.812, max: 212.4, mean: 12.345, stddev: 20.1, p50: 6.5, p90: 30.25, p95: 48.1, p99: 119.9, p999: 212.4 }),
    serviceTimeMs: stats({ count: 498, min: 0.8, max: 210, mean: 12, p50: 6.4, p99: 118.2 }),
    failedLatencyMs: stats({ count: 2, min: 3.1, max: 10_000.5, p50: 3.1 }),
    startLagMs: { p50: 0.001, p99: 1.4, max: 3.4 },
    buckets: [
      { label: '0-50ms', fromMs: 0, toMs: 50, count: 474, percent: 95.18 },
      { label: '50-100ms', fromMs: 50, toMs: 100, count: 19, percent: 3.82 },
      { label: '100-150ms', fromMs: 100, toMs: 150, count: 3, percent: 0.6 },
      { label: '150-200ms', fromMs: 150, toMs: 200, count: 0, percent: 0 },
      { label: '200-250ms', fromMs: 200, toMs: 250, count: 2, percent: 0.4 },
      { label: '250+ms', fromMs: 250, toMs: null, count: 0, percent: 0 },
    ],
    statusCodes: { '200': 498, '503': 1 },
    errors: { timeout: 1, refused: 0, reset: 0, '4xx': 0, '5xx': 1, otherStatus: 0, other: 0 },
    traces: {
      recorded: 500,
      unique: 500,
      duplicates: 0,
      duplicateIds: [],
      missing: 0,
      mismatched: 0,
      delivery: { url: 'http://localhost:4318/debug/traces/lookup', queried: 500, delivered: 500, missing: [], error: null },
    },
    client: { cpuPercent: 8.4, cpuUserMs: 650.1, cpuSystemMs: 160.2, eventLoopDelayMs: { mean: 0.2, p50: 0.1, p99: 1.25, max: 3 }, saturated: false },
    targets: [],
    warnings: [],
    slo: [
      { expr: 'p99<200ms', ok: true, actual: 119.9, unit: 'ms' },
      { expr: 'errors<0.1%', ok: false, actual: 0.4, unit: '%' },
    ],
  };
}

test('durations print with three decimals under 1 ms, two under 10 ms, one above, and n/a for no data', () => {
  assert.deepEqual([0.8123, 6.5, 9.999, 119.94, 10_000.5].map(formatMs), ['0.812ms', '6.50ms', '10.00ms', '119.9ms', '10000.5ms']);
  assert.equal(formatMs(Number.POSITIVE_INFINITY), 'n/a');
  assert.equal(formatActual(Number.POSITIVE_INFINITY, 'ms'), 'no data');
  assert.equal(formatActual(0.4, '%'), '0.40%');
  assert.equal(formatActual(45, ' req/s'), '45 req/s');
});

test("the Configuration block names the URL, the count, the workers and the open model's rate and duration", () => {
  const s = summary();
  const cli = {
    load: { target: s.config.target, method: 'POST', body: null, requests: 500, durationMs: null, rate: 50, concurrency: 10, timeoutMs: 10_000, propagate: true },
    url: 'http://localhost:9002',
    fallbackUrl: 'http://localhost:9000',
    warmupMs: 2_000,
    warmupRequests: 0,
    buckets: [50, 100, 150, 200, 250],
    json: false,
    out: null,
    quiet: false,
    slos: [],
    verifyTraces: 'http://localhost:4318',
    verifyWaitMs: 6_000,
  } satisfies CliOptions;
  assert.equal(
    formatConfiguration(cli),
    [
      'Starting load test...',
      '========================================',
      'Configuration:',
      '  URL: http://localhost:9002/predict',
      '  Total requests: 500',
      '  Concurrency: 10 workers',
      '  Target rate: 50 req/s (total, open model)',
      '  Total expected duration: ~10s',
      '  Warm-up: 2.0s (not measured)',
      '  Trace context: W3C traceparent sent with every request',
      '  Verify traces at: http://localhost:4318',
      '========================================',
      '',
      '',
    ].join('\n'),
  );
  const closed = formatConfiguration({ ...cli, load: { ...cli.load, rate: null, requests: null, durationMs: 30_000, propagate: false }, warmupMs: 0, verifyTraces: null });
  assert.ok(
    closed.endsWith(
      [
        '  Duration: 30.0s',
        '  Concurrency: 10 workers',
        '  Target rate: none (closed model: each worker sends as soon as its last response arrives)',
        '  Total expected duration: ~30s',
        '========================================',
        '',
        '',
      ].join('\n'),
    ),
    closed,
  );
});

test('progress prints as a bar with rate and ETA on a terminal, as a plain line elsewhere, and full at the end', () => {
  const p = { completed: 125, sent: 130, total: 500, elapsedMs: 2_500, durationMs: null, failed: 1 };
  assert.equal(formatProgressBar(p), 'Progress: [#####...............] 125/500  50.0 req/s  elapsed 2.5s  ETA 7.5s');
  assert.equal(formatProgressLine(p), 'Progress: 125/500 (25%)  50.0 req/s  elapsed 2.5s  failed 1');
  assert.equal(formatProgressDone({ ...p, completed: 500 }), 'Progress: [####################] 500/500');
  const timed = { completed: 300, sent: 300, total: null, elapsedMs: 15_000, durationMs: 30_000, failed: 0 };
  assert.equal(formatProgressLine(timed), 'Progress: 300 (50%)  20.0 req/s  elapsed 15.0s  failed 0');
});

test('the Results report prints every figure of the summary in the guide’s blocks, then the audit, client and SLO lines', () => {
  const expected = [
    'Results:',
    '========================================',
    'Total requests:     500',
    'Successful:         498',
    'Failed:             2',
    'Duration:           10.0s',
    'Actual rate:        49.9 req/s',
    'Send rate:          50.0 req/s (target 50, kept)',
    'Late / dropped:     0 / 0',
    'Status codes:       200: 498, 503: 1',
    'Errors:             timeout 1, 5xx 1',
    '',
    'Latency Distribution:',
    '========================================',
    '  Min:              0.812ms',
    '  Max:              212.4ms',
    '  Mean:             12.3ms',
    '  Median (p50):     6.50ms',
    '  p90:              30.3ms',
    '  p95:              48.1ms',
    '  p99:              119.9ms',
    '  p99.9:            212.4ms',
    "  Latency counts from each request's scheduled start (no coordinated omission). Service time from the actual send: p50 6.40ms, p99 118.2ms, max 210.0ms.",
    '  Failed requests are not in these figures: 2 failed after p50 3.10ms, max 10000.5ms.',
    '',
    'Histogram Buckets:',
    `  0-50ms:     ${'█'.repeat(38)} 95%`,
    `  50-100ms:   ${'█'.repeat(2)} 4%`,
    '  100-150ms:  █ 0.6%',
    '  150-200ms:   0%',
    '  200-250ms:  █ 0.4%',
    '  250+ms:      0%',
    '========================================',
    '',
    'Trace Audit:',
    '========================================',
    'Trace ids:          500 recorded, 500 unique, 0 duplicates, 0 responses without one',
    'Traces delivered: 500/500',
    'Load generator:     CPU 8% of one core, event-loop delay p99 1.25ms (not saturated)',
    'Start lag:          p50 0.001ms, p99 1.40ms, max 3.40ms behind schedule',
    '',
    'SLO:',
    '  ok   p99<200ms (actual 119.9ms)',
    '  FAIL errors<0.1% (actual 0.40%)',
    '========================================',
    '',
  ].join('\n');
  assert.equal(formatResults(summary()), expected);
});

test('problems show up in the report: missing deliveries, duplicates, warnings and a saturated client', () => {
  const s = summary();
  s.traces = {
    ...s.traces,
    duplicates: 1,
    duplicateIds: ['ab'.repeat(16)],
    delivery: { url: 'u', queried: 500, delivered: 493, missing: ['1', '2', '3', '4', '5', '6', '7'], error: null },
  };
  s.client = { ...s.client, cpuPercent: 97, saturated: true };
  s.warnings = ['7 of 500 trace ids never reached the receiver.'];
  const text = formatResults(s);
  assert.ok(text.includes(`\n  duplicated: ${'ab'.repeat(16)}\n`), text);
  assert.ok(text.includes('\nTraces delivered: 493/500\n  missing: 1, 2, 3, 4, 5 (and 2 more)\n'), text);
  assert.ok(text.includes('CPU 97% of one core, event-loop delay p99 1.25ms (SATURATED)\n'), text);
  assert.ok(text.endsWith('\nWarnings:\n  ! 7 of 500 trace ids never reached the receiver.\n========================================\n'), text);
  s.traces = { ...s.traces, delivery: { url: 'u', queried: 500, delivered: 0, missing: [], error: 'connect ECONNREFUSED' } };
  assert.ok(formatResults(s).includes('\nTraces delivered:   unknown (connect ECONNREFUSED)\n'));
});

test('a run without an answer says so, prints no latency figures and no saturation verdict', () => {
  const s = summary();
  s.requests = { total: 20, sent: 20, completed: 20, answered: 0, successful: 0, failed: 20, late: 0, dropped: 0, retried: 0 };
  s.latencyMs = stats({});
  s.statusCodes = {};
  s.errors = { timeout: 0, refused: 20, reset: 0, '4xx': 0, '5xx': 0, otherStatus: 0, other: 0 };
  s.client = { ...s.client, cpuPercent: 100 };
  const text = formatResults(s);
  assert.ok(text.includes('\nStatus codes:       none\nErrors:             refused 20\n'), text);
  assert.ok(text.includes('\n  (no successful request)\n'), text);
  assert.ok(text.includes('\nLoad generator:     CPU 100% of one core, event-loop delay p99 1.25ms\n'), text);
  assert.doesNotMatch(text, /saturated/i);
  assert.equal(formatUnanswered(s), 'no request to http://localhost:9002 was answered (refused 20): the service stopped listening or never answered.');
  assert.equal(formatUnanswered(summary()), null);
});

test('each violated objective is one line naming it and its actual value', () => {
  assert.deepEqual(formatViolations(summary()), ['SLO violated: errors<0.1% (actual 0.40%)']);
});

test('the JSON summary is the summary itself, indented by two spaces, ending in a newline', () => {
  const s = summary();
  const json = formatJson(s);
  assert.deepEqual(JSON.parse(json), s);
  assert.ok(json.startsWith('{\n  "schema": "load-generator.summary/v1",\n  "config": {\n    "target": "http://localhost:9002/predict",'), json);
  assert.ok(json.endsWith('\n}\n'));
  assert.match(json, /\n {4}"answered": 499,\n/);
});
