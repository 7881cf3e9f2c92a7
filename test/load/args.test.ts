import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULTS, USAGE, parseCli, parseDuration } from '../../src/load/args.ts';
import { parseSlo } from '../../src/load/slo.ts';

test("the guide's Test 7 command becomes an open-model run of 500 requests at 50 req/s in total", () => {
  const { options, errors } = parseCli(['--url', 'http://localhost:9002', '--requests', '500', '--concurrency', '10', '--rate', '50']);
  assert.deepEqual(errors, []);
  assert.ok(options);
  assert.equal(options.load.target, 'http://localhost:9002/predict');
  assert.equal(options.load.requests, 500);
  assert.equal(options.load.rate, 50);
  assert.equal(options.load.concurrency, 10);
  assert.equal(options.load.method, 'POST');
  assert.deepEqual(JSON.parse(options.load.body ?? ''), { features: [0.5, 1.5, 2.0] });
  assert.deepEqual(options.buckets, DEFAULTS.buckets);
  assert.ok(Object.isFrozen(options) && Object.isFrozen(options.load));
});

test('without --rate the run is a closed model and without --requests it sends the default count', () => {
  const { options } = parseCli([]);
  assert.equal(options?.load.rate, null);
  assert.equal(options?.load.requests, DEFAULTS.requests);
  assert.equal(options?.load.durationMs, null);
});

test('the help text says --rate is the total rate, not a per-worker rate', () => {
  assert.match(USAGE, /--rate R\s+TOTAL target rate/);
  assert.equal(parseCli(['--help']).help, true);
});

test('durations accept ms, s, m and bare seconds', () => {
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseDuration('1.5'), 1_500);
  assert.ok(Number.isNaN(parseDuration('soon')));
  const { options } = parseCli(['--duration', '2s', '--timeout', '250ms', '--warmup', '1s']);
  assert.equal(options?.load.durationMs, 2_000);
  assert.equal(options?.load.requests, null);
  assert.equal(options?.load.timeoutMs, 250);
  assert.equal(options?.warmupMs, 1_000);
  assert.equal(parseCli(['--warmup', '50']).options?.warmupRequests, 50);
});

test('--features, --endpoint, --buckets and a URL with a path shape the request', () => {
  const { options } = parseCli(['--url', 'http://h:1/v1/batch', '--features', '1,2,3', '--buckets', '10,20']);
  assert.equal(options?.load.target, 'http://h:1/v1/batch');
  assert.equal(options?.load.body, '{"features":[1,2,3]}');
  assert.deepEqual(options?.buckets, [10, 20]);
  assert.equal(parseCli(['--url', 'http://h:1/x', '--endpoint', '/predict']).options?.load.target, 'http://h:1/predict');
});

test('--body reads a JSON file and rejects one that is not JSON', () => {
  const { options, errors } = parseCli(['--body', new URL('../../package.json', import.meta.url).pathname]);
  assert.deepEqual(errors, []);
  assert.match(options?.load.body ?? '', /"name"/);
  const bad = parseCli(['--body', '/nonexistent/body.json']);
  assert.equal(bad.options, null);
  assert.equal(bad.errors[0]?.flag, '--body');
});

test('every bad value is reported at once, each naming its flag', () => {
  const { options, errors } = parseCli([
    '--rate=-5', '--concurrency', '0', '--requests', '1.5', '--url', 'ftp://x', '--buckets', '100,50',
    '--timeout', 'later', '--slo', 'p99~200', '--features', 'a,b', '--verify-traces', 'nope',
  ]);
  assert.equal(options, null);
  const flags = errors.map((e) => e.flag).sort();
  assert.deepEqual(flags, ['--buckets', '--concurrency', '--features', '--rate', '--requests', '--slo', '--timeout', '--url', '--verify-traces']);
  for (const e of errors) assert.ok(e.message.startsWith(e.flag), e.message);
});

test('unknown flags and conflicting flags are errors, not exceptions', () => {
  assert.equal(parseCli(['--rps', '5']).errors[0]?.flag, '--rps');
  assert.equal(parseCli(['--requests', '5', '--duration', '2s']).errors[0]?.flag, '--duration');
  assert.equal(parseCli(['--rate']).errors.length, 1);
});

test('SLO expressions parse into metric, operator and value in canonical units', () => {
  assert.deepEqual(parseSlo('p99<200ms'), { slo: { expr: 'p99<200ms', kind: 'latency', metric: 'p99', op: '<', value: 200 } });
  assert.deepEqual(parseSlo('p50 <= 0.1s'), { slo: { expr: 'p50 <= 0.1s', kind: 'latency', metric: 'p50', op: '<=', value: 100 } });
  assert.deepEqual(parseSlo('errors<1%'), { slo: { expr: 'errors<1%', kind: 'errors', op: '<', value: 1, percent: true } });
  assert.deepEqual(parseSlo('rate>=45'), { slo: { expr: 'rate>=45', kind: 'rate', op: '>=', value: 45 } });
  assert.ok('error' in parseSlo('p99<200kg'));
  assert.ok('error' in parseSlo('throughput>5'));
});
