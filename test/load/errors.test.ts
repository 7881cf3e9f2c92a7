import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { CliOptions } from '../../src/load/args.ts';
import { aggregate } from '../../src/load/aggregate.ts';
import { runLoad, type RunResult, type LoadOptions } from '../../src/load/engine.ts';
import { close, listen } from '../helpers/local-server.ts';

// Request n (from 1) is answered by its last digit: 1 -> 500, 2 -> 404, 3 -> connection reset,
// 4 -> never answered (a timeout), anything else -> 200.
let server: Server;
let base = '';
let count = 0;
const hanging: ServerResponse[] = [];

before(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const n = ++count % 10;
      if (n === 1) res.writeHead(500).end('{"detail":"boom"}');
      else if (n === 2) res.writeHead(404).end();
      else if (n === 3) req.socket.destroy();
      else if (n === 4) hanging.push(res);
      else res.end('{"prediction":4.0}');
    });
  });
  base = await listen(server);
});

after(async () => {
  await close(server);
});

function options(overrides: Partial<LoadOptions>): LoadOptions {
  return {
    target: `${base}/predict`,
    method: 'POST',
    body: '{"features":[1]}',
    requests: 50,
    durationMs: null,
    rate: null,
    concurrency: 5,
    timeoutMs: 300,
    propagate: false,
    ...overrides,
  };
}

function summarize(run: RunResult): ReturnType<typeof aggregate> {
  const cli: CliOptions = {
    load: run.options,
    url: base,
    fallbackUrl: null,
    warmupMs: 0,
    warmupRequests: 0,
    buckets: [50, 100],
    json: false,
    out: null,
    quiet: true,
    slos: [],
    verifyTraces: null,
    verifyWaitMs: 0,
  };
  return aggregate(run, cli);
}

test('statuses and error classes are counted, and failed requests stay out of the success histogram', async () => {
  count = 0;
  const run = await runLoad(options({}));
  const s = summarize(run);
  assert.equal(run.completed, 50);
  assert.deepEqual(s.statusCodes, { '200': 30, '404': 5, '500': 5 });
  assert.equal(s.errors['5xx'], 5);
  assert.equal(s.errors['4xx'], 5);
  assert.equal(s.errors.reset, 5);
  assert.equal(s.errors.timeout, 5);
  assert.equal(s.errors.refused, 0);
  assert.equal(s.requests.successful, 30);
  assert.equal(s.requests.failed, 20);
  assert.equal(s.latencyMs.count, 30);
  assert.equal(s.failedLatencyMs.count, 20);
  // The timed-out requests failed after about the 300 ms timeout and only the failure histogram holds them.
  assert.ok(s.failedLatencyMs.max >= 290 && s.failedLatencyMs.max < 1_000, `failed max ${s.failedLatencyMs.max}`);
  assert.ok(s.latencyMs.max < 290, `success max ${s.latencyMs.max}`);
});

test('a timeout is measured from the send and ends the request close to the deadline', async () => {
  count = 3; // the next request is number 4: never answered
  const run = await runLoad(options({ requests: 1, concurrency: 1, timeoutMs: 200 }));
  assert.equal(run.errorCounts.timeout, 1);
  const ms = run.failedLatency.maxValue / 1000;
  assert.ok(ms >= 195 && ms < 600, `timed out after ${ms} ms`);
});

test('a closed port counts every request as connection refused', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  const run = await runLoad(options({ target: `http://127.0.0.1:${port}/predict`, requests: 5, concurrency: 2 }));
  assert.equal(run.errorCounts.refused, 5);
  assert.equal(run.failed, 5);
  assert.equal(run.successful, 0);
  assert.equal(run.latency.totalCount, 0);
});
