import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { runLoad } from '../../src/load/engine.ts';
import { MAX_MESSAGES, SeriesRecorder, failureMessage, type Second } from '../../src/load/series.ts';
import { close, listen } from '../helpers/local-server.ts';

test('sends and completions land in the second of their time, with a record for every second in between', () => {
  const r = new SeriesRecorder();
  r.start(10_000);
  r.sent(10_000);
  r.sent(10_400);
  r.completed(10_020, true, 20_000, 200, null);
  r.completed(10_990, true, 40_000, 200, null);
  r.sent(12_100);
  r.completed(12_500, false, 3_000, 503, 'HTTP 503 ERR_OVERLOADED');
  r.completed(13_200, false, 10_000_000, 'timeout', 'request timed out');
  const s = r.finish();
  assert.deepEqual(
    s.seconds.map((x) => [x.t, x.sent, x.completed, x.successful, x.failed]),
    [
      [0, 2, 2, 2, 0],
      [1, 0, 0, 0, 0],
      [2, 1, 1, 0, 1],
      [3, 0, 1, 0, 1],
    ],
  );
  assert.deepEqual(s.seconds[0]?.statusCodes, { '200': 2 });
  assert.deepEqual(s.seconds[2]?.statusCodes, { '503': 1 });
  assert.deepEqual(s.seconds[3]?.errors, { timeout: 1 });
  assert.equal(s.seconds[1]?.latencyMs, null);
  assert.equal(s.seconds[2]?.latencyMs, null, 'failed requests are not in the latency');
});

test("each second's latency percentiles cover only the successful requests completed in that second", () => {
  const r = new SeriesRecorder();
  r.start(0);
  // Second 0: 1..100 ms; second 1: 500 ms (and a failure, which is left out); second 2: 7 ms.
  for (let ms = 1; ms <= 100; ms++) r.completed(ms * 5, true, ms * 1000, 200, null);
  r.completed(1_100, true, 500_000, 200, null);
  r.completed(1_200, false, 900_000, 500, 'HTTP 500');
  r.completed(2_000, true, 7_000, 200, null);
  const [s0, s1, s2] = r.finish().seconds;
  assert.ok(s0?.latencyMs && s1?.latencyMs && s2?.latencyMs);
  assert.ok(Math.abs(s0.latencyMs.p50 - 50) <= 0.1, `p50 ${s0.latencyMs.p50}`);
  assert.ok(Math.abs(s0.latencyMs.p90 - 90) <= 0.1, `p90 ${s0.latencyMs.p90}`);
  assert.ok(Math.abs(s0.latencyMs.p99 - 99) <= 0.1, `p99 ${s0.latencyMs.p99}`);
  assert.equal(s0.latencyMs.max, 100);
  assert.ok(Math.abs(s1.latencyMs.p50 - 500) <= 0.5 && s1.latencyMs.max === 500, JSON.stringify(s1.latencyMs));
  assert.equal(s2.latencyMs.max, 7);
});

test(`failure messages are counted by text, and only the first ${MAX_MESSAGES} distinct ones are kept`, () => {
  const r = new SeriesRecorder();
  r.start(0);
  for (let i = 0; i < 3; i++) r.completed(100 + i * 1000, false, 1000, 503, 'HTTP 503 overloaded');
  for (let i = 0; i < MAX_MESSAGES + 5; i++) r.completed(3_000, false, 1000, 'other', `distinct ${i}`);
  const s = r.finish();
  assert.equal(s.errorMessages.length, MAX_MESSAGES);
  assert.deepEqual(s.errorMessages[0], { message: 'HTTP 503 overloaded', count: 3, firstS: 0, lastS: 2 });
  assert.equal(s.otherMessages, 6);
});

test("a failure's message says what the service's error body explains, or what the transport error was", () => {
  const body = (v: unknown): Buffer => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
  assert.equal(
    failureMessage(null, 503, body({ detail: 'Model queue is full', code: 'ERR_OVERLOADED', trace_id: 'a'.repeat(32) })),
    'HTTP 503 ERR_OVERLOADED: Model queue is full',
  );
  assert.equal(
    failureMessage(null, 422, body({ detail: [{ loc: ['body', 'features'], msg: 'field required', type: 'x' }], code: 'ERR_VALIDATION' })),
    'HTTP 422 ERR_VALIDATION: field required',
  );
  assert.equal(failureMessage(null, 502, body('<html>\n  <h1>Bad   gateway</h1></html>')), 'HTTP 502 <html> <h1>Bad gateway</h1></html>');
  assert.equal(failureMessage(null, 404, null), 'HTTP 404');
  assert.equal(failureMessage(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), 0, null), 'connect ECONNREFUSED 127.0.0.1:1');
  assert.equal(failureMessage(new Error('x'.repeat(1000)), 0, null).length, 300);
});

let server: Server;
let base = '';
let count = 0;
before(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      count++;
      if (count % 5 === 0) res.writeHead(503, { 'content-type': 'application/json' }).end('{"detail":"busy","code":"ERR_OVERLOADED"}');
      else res.end('{"prediction":4.0}');
    });
  });
  base = await listen(server);
});

after(async () => {
  await close(server);
});

test("the engine's series adds up to the run's totals, second by second", async () => {
  const run = await runLoad({
    target: `${base}/predict`,
    method: 'POST',
    body: '{"features":[1,2,3]}',
    requests: 60,
    durationMs: null,
    rate: 40,
    concurrency: 4,
    timeoutMs: 5_000,
    propagate: false,
  });
  assert.ok(run.series);
  const s = run.series;
  assert.ok(s.seconds.length >= 2, `${s.seconds.length} seconds for 60 requests at 40 req/s`);
  const sum = (f: (x: Second) => number): number => s.seconds.reduce((n, x) => n + f(x), 0);
  assert.equal(sum((x) => x.sent), run.sent);
  assert.equal(sum((x) => x.completed), run.completed);
  assert.equal(sum((x) => x.successful), run.successful);
  assert.equal(sum((x) => x.statusCodes['503'] ?? 0), run.statusCounts['503']);
  assert.equal(sum((x) => x.statusCodes['200'] ?? 0), run.statusCounts['200']);
  assert.deepEqual(s.errorMessages.map((m) => [m.message, m.count]), [['HTTP 503 ERR_OVERLOADED: busy', run.failed]]);
  assert.ok(s.seconds.every((x) => x.successful === 0 || x.latencyMs !== null));
});
