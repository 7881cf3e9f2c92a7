import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import type { CliOptions } from '../../src/load/args.ts';
import { aggregate, latencyStats, type Summary } from '../../src/load/aggregate.ts';
import { LoadRun, runLoad, type RunResult, type LoadOptions } from '../../src/load/engine.ts';
import { close, listen } from '../helpers/local-server.ts';

// A target that answers after `delayMs`, except that one request (number `stallAt`, counting from 1, per reset)
// starts a stall: every request arriving in the next `stallMs` is answered only when the stall ends.
const target = { delayMs: 2, stallAt: 0, stallMs: 1000, count: 0, stallUntil: 0 };
let server: Server;
let base = '';

before(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      target.count++;
      const now = Date.now();
      if (target.count === target.stallAt) target.stallUntil = now + target.stallMs;
      const wait = Math.max(target.delayMs, target.stallUntil - now);
      setTimeout(() => res.end('{"prediction":4.0}'), wait);
    });
  });
  base = await listen(server);
});

after(async () => {
  await close(server);
});

function reset(delayMs: number, stallAt = 0): void {
  Object.assign(target, { delayMs, stallAt, count: 0, stallUntil: 0 });
}

function options(overrides: Partial<LoadOptions>): LoadOptions {
  return {
    target: `${base}/predict`,
    method: 'POST',
    body: '{"features":[0.5,1.5,2.0]}',
    requests: 100,
    durationMs: null,
    rate: null,
    concurrency: 10,
    timeoutMs: 5_000,
    propagate: false,
    ...overrides,
  };
}

function summarize(run: RunResult): Summary {
  const cli: CliOptions = {
    load: run.options,
    url: base,
    fallbackUrl: null,
    warmupMs: 0,
    warmupRequests: 0,
    buckets: [50, 100, 150, 200, 250],
    json: false,
    out: null,
    quiet: true,
    slos: [],
    verifyTraces: null,
    verifyWaitMs: 0,
  };
  return aggregate(run, cli);
}

test('an open-model run at 200 req/s for 1 s sends 200 requests on schedule', async () => {
  reset(2);
  const run = await runLoad(options({ rate: 200, requests: 200, concurrency: 50 }));
  const s = summarize(run);
  assert.equal(run.sent, 200);
  assert.equal(run.successful, 200);
  assert.equal(target.count, 200);
  // Request 199 is due at 995 ms; generous bounds for a noisy 2-core machine.
  assert.ok(run.sendSpanMs >= 990 && run.sendSpanMs < 1_200, `send span ${run.sendSpanMs} ms`);
  assert.ok(s.rate.send !== null && Math.abs(s.rate.send - 200) / 200 < 0.1, `send rate ${s.rate.send}`);
  assert.ok(run.durationMs < 1_500, `duration ${run.durationMs} ms`);
  assert.equal(s.rate.shortfall, false);
});

test('a 1 s stall in an open-model run shows in p90 and p99 although concurrency caps the requests in flight', async () => {
  reset(2, 30);
  // 150 requests at 100 req/s; the stall starts with request 30 (at ~0.3 s) and holds everything until ~1.3 s.
  const run = await runLoad(options({ rate: 100, requests: 150, concurrency: 10 }));
  const l = latencyStats(run.latency);
  assert.equal(run.successful, 150);
  assert.ok(l.p90 > 400, `p90 ${l.p90} ms should show the stall`);
  assert.ok(l.p99 > 800, `p99 ${l.p99} ms should show the stall`);
  assert.ok(l.max >= 900, `max ${l.max} ms`);
  // The requests held back by the cap were sent late, and their service time does not contain the wait.
  assert.ok(run.late >= 50, `late ${run.late}`);
  const st = latencyStats(run.serviceTime);
  assert.ok(st.p50 < l.p50, `service p50 ${st.p50} vs latency p50 ${l.p50}`);
});

test('the same stall in a closed-model run only shows for the requests that were in flight', async () => {
  reset(2, 30);
  const run = await runLoad(options({ rate: null, requests: 100, concurrency: 2 }));
  const l = latencyStats(run.latency);
  assert.equal(run.successful, 100);
  assert.ok(l.max >= 900, `max ${l.max} ms: the two requests in flight waited`);
  assert.ok(l.p90 < 200, `p90 ${l.p90} ms: coordinated omission hides the stall from the other requests`);
  assert.equal(run.late, 0);
});

test('an overloaded open-model run counts late starts, reports the shortfall and a p50 that includes queueing', async () => {
  reset(100);
  // Capacity 2 x 100 ms = 20 req/s against a target of 40 req/s for 1 s.
  const run = await runLoad(options({ rate: 40, requests: null, durationMs: 1_000, concurrency: 2 }));
  const s = summarize(run);
  assert.ok(run.late > 0, `late ${run.late}`);
  assert.ok(run.dropped > 0, `dropped ${run.dropped}`);
  assert.equal(s.requests.total, 40);
  assert.equal(s.rate.shortfall, true);
  assert.ok(s.warnings.some((w) => /below the 40 req\/s target/.test(w)), s.warnings.join('\n'));
  assert.ok(s.latencyMs.p50 > 150, `p50 ${s.latencyMs.p50} ms should include the wait for a free connection`);
  assert.ok(s.serviceTimeMs.p50 < 150, `service p50 ${s.serviceTimeMs.p50} ms`);
});

test('a closed-model duration run stops sending at the deadline', async () => {
  reset(5);
  const started = performance.now();
  const run = await runLoad(options({ requests: null, durationMs: 500, concurrency: 4 }));
  const took = performance.now() - started;
  assert.ok(run.sent > 50, `sent ${run.sent}`);
  assert.equal(run.completed, run.sent);
  assert.ok(took < 1_500, `took ${took} ms`);
});

test('the engine emits start, progress and done events', async () => {
  reset(2);
  const run = new LoadRun(options({ rate: 100, requests: 50 }));
  const seen: string[] = [];
  let last = 0;
  run.on('start', () => seen.push('start'));
  run.on('progress', (p) => {
    assert.ok(p.completed >= last);
    last = p.completed;
  });
  run.on('done', (r) => seen.push(`done ${r.completed}`));
  run.start();
  await run.result;
  assert.deepEqual(seen, ['start', 'done 50']);
  assert.equal(last, 50);
});
