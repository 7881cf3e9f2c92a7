import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { close, listen } from '../helpers/local-server.ts';
import { loadCli as cli } from '../helpers/load-cli.ts';

let server: Server;
let base = '';
const dir = mkdtempSync(join(tmpdir(), 'load-cli-'));

// The service's contract: 20 ms, a JSON body with a trace_id, and x-trace-id on every response.
before(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () =>
      setTimeout(() => {
        const id = randomBytes(16).toString('hex');
        res.writeHead(200, { 'content-type': 'application/json', 'x-trace-id': id });
        res.end(JSON.stringify({ prediction: 4.0, model_name: 'simple-linear-demo', latency_ms: 20, trace_id: id }));
      }, 20),
    );
  });
  base = await listen(server);
});

after(async () => {
  await close(server);
  rmSync(dir, { recursive: true, force: true });
});


test("the text report reproduces the guide's Test 7 blocks and labels in order", async () => {
  const r = await cli(['--url', base, '--requests', '40', '--concurrency', '10', '--rate', '50']);
  assert.equal(r.code, 0, r.stderr);
  const labels = [
    'Starting load test...',
    'Configuration:',
    `  URL: ${base}/predict`,
    '  Total requests: 40',
    '  Concurrency: 10 workers',
    '  Target rate: 50 req/s (total, open model)',
    '  Total expected duration: ~1s',
    'Progress: [####################] 40/40',
    'Results:',
    'Total requests:     40',
    'Successful:         40',
    'Failed:             0',
    'Duration:           ',
    'Actual rate:        ',
    'Latency Distribution:',
    '  Min:              ',
    '  Max:              ',
    '  Mean:             ',
    '  Median (p50):     ',
    '  p90:              ',
    '  p95:              ',
    '  p99:              ',
    'Histogram Buckets:',
    '  0-50ms:     ',
    '  50-100ms:   ',
    '  100-150ms:  ',
    '  150-200ms:  ',
    '  200-250ms:  ',
    '  250+ms:     ',
    'Trace ids:          40 recorded, 40 unique, 0 duplicates, 0 responses without one',
  ];
  let at = 0;
  for (const label of labels) {
    const i = r.stdout.indexOf(label, at);
    assert.ok(i >= 0, `missing or out of order: ${JSON.stringify(label)}\n${r.stdout}`);
    at = i + label.length;
  }
  // Every request takes ~20 ms of service time, so most land in the first bucket (queueing on a loaded CI machine
  // may push a few higher); bars are 40 characters at 100 %, and the percentages add up to 100.
  const first = /  0-50ms: {5}(█*) (\d+)%/.exec(r.stdout);
  assert.ok(first, r.stdout);
  assert.ok(Number(first[2]) >= 50, `most requests in 0-50ms:\n${r.stdout}`);
  assert.ok(Math.abs(first[1]!.length - (Number(first[2]) * 40) / 100) <= 1, 'bar length follows the percentage');
  const total = [...r.stdout.matchAll(/^  [0-9+-]+ms: +█* (\d+)%$/gm)].reduce((n, m) => n + Number(m[1]), 0);
  assert.ok(total >= 98 && total <= 102, `bucket percentages add up to 100 (rounding aside): ${total}`);
});

test('--json prints one summary with the documented schema and --out writes the same summary', async () => {
  const out = join(dir, 'summary.json');
  const r = await cli(['--url', base, '--requests', '30', '--rate', '100', '--json', '--out', out, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), s);
  const shape: Record<string, string> = {
    schema: 'string',
    config: 'object',
    startedAt: 'string',
    interrupted: 'boolean',
    durationMs: 'number',
    requests: 'object',
    rate: 'object',
    latencyMs: 'object',
    serviceTimeMs: 'object',
    failedLatencyMs: 'object',
    startLagMs: 'object',
    buckets: 'object',
    statusCodes: 'object',
    errors: 'object',
    traces: 'object',
    client: 'object',
    targets: 'object',
    warnings: 'object',
    slo: 'object',
  };
  assert.deepEqual(Object.keys(s).sort(), Object.keys(shape).sort());
  for (const [key, type] of Object.entries(shape)) assert.equal(typeof s[key], type, key);
  assert.equal(s.schema, 'load-generator.summary/v1');
  const numbers = (o: unknown, keys: string[]): void => {
    for (const k of keys) assert.equal(typeof (o as Record<string, unknown>)[k], 'number', k);
  };
  numbers(s.requests, ['total', 'sent', 'completed', 'successful', 'failed', 'late', 'dropped']);
  numbers(s.rate, ['target', 'actual', 'send']);
  for (const k of ['latencyMs', 'serviceTimeMs', 'failedLatencyMs']) {
    numbers(s[k], ['count', 'min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p95', 'p99', 'p999']);
  }
  numbers(s.errors, ['timeout', 'refused', 'reset', '4xx', '5xx', 'otherStatus', 'other']);
  numbers(s.traces, ['recorded', 'unique', 'duplicates', 'missing', 'mismatched']);
  numbers(s.client, ['cpuPercent', 'cpuUserMs', 'cpuSystemMs']);
  const buckets = s.buckets as Array<Record<string, unknown>>;
  assert.deepEqual(buckets.map((b) => b.label), ['0-50ms', '50-100ms', '100-150ms', '150-200ms', '200-250ms', '250+ms']);
  assert.equal(buckets.reduce((n, b) => n + (b.count as number), 0), 30);
  const config = s.config as Record<string, unknown>;
  assert.equal(config.model, 'open');
  assert.equal(config.targetRate, 100);
  assert.deepEqual(s.statusCodes, { '200': 30 });
  const targets = s.targets as Array<Record<string, unknown>>;
  assert.deepEqual(
    targets.map((t) => [t.url, t.requests, t.successful, t.failed, t.retried, t.statusCodes, (t.latencyMs as { count: number }).count]),
    [[`${base}/predict`, 30, 30, 0, 0, { '200': 30 }, 30]],
    'one target: its figures are the run\'s',
  );
  const latency = s.latencyMs as Record<string, number>;
  assert.ok(latency.p50 >= 19 && latency.p50 < 200, `p50 ${latency.p50}`);
});

test('a violated SLO exits 1 with a line naming it, and met SLOs exit 0', async () => {
  const bad = await cli(['--url', base, '--requests', '20', '--quiet', '--slo', 'p99<1ms', '--slo', 'errors<1%', '--slo', 'rate>=100000']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /SLO violated: p99<1ms \(actual \d+(\.\d+)?ms\)/);
  assert.match(bad.stderr, /SLO violated: rate>=100000/);
  assert.doesNotMatch(bad.stderr, /errors<1%/);
  assert.match(bad.stdout, /FAIL p99<1ms/);
  const good = await cli(['--url', base, '--requests', '20', '--quiet', '--slo', 'p99<5s', '--slo', 'errors<1%', '--slo', 'rate>=1']);
  assert.equal(good.code, 0, good.stderr);
  assert.equal(good.stderr, '');
});

test('bad arguments exit 2 with a message naming each flag, before any request is sent', async () => {
  const r = await cli(['--url', base, '--rate=0', '--buckets', 'x', '--slo', 'p99 below 5']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--rate must be a positive number/);
  assert.match(r.stderr, /--buckets must be/);
  assert.match(r.stderr, /--slo "p99 below 5"/);
  assert.equal(r.stdout, '');
});

test('progress is printed as plain lines when the output is not a terminal', async () => {
  const r = await cli(['--url', base, '--duration', '1.5s', '--rate', '40']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Progress: \d+ \(\d+%\) {2}[\d.]+ req\/s {2}elapsed [\d.]+s {2}failed 0$/m);
  assert.doesNotMatch(r.stdout, /\r|\x1b\[/);
  assert.match(r.stdout, /  Duration: 1\.5s/);
});
