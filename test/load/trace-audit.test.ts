import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { runLoad, type LoadOptions } from '../../src/load/engine.ts';
import { TraceparentSource, auditTraces, traceIdOf, uniqueIds, verifyTraces } from '../../src/load/trace-audit.ts';
import { OtlpReceiver } from '../../src/receiver/receiver.ts';
import { close, listen } from '../helpers/local-server.ts';
import { loadCli as cli } from '../helpers/load-cli.ts';

const HEX32 = /^[0-9a-f]{32}$/;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => resolve(body));
  });
}

function otlpSpan(traceId: string): string {
  const span = { traceId, spanId: randomBytes(8).toString('hex'), name: 'POST /predict', kind: 2, startTimeUnixNano: '1', endTimeUnixNano: '2' };
  return JSON.stringify({ resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ scope: { name: 't' }, spans: [span] }] }] });
}

// The real receiver, and a service stand-in that reports a span to it for every request except every third one
// (`dropEvery`), so the audit has something to find. With --propagate it continues the client's trace.
const receiver = new OtlpReceiver({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, healthPort: 0, print: false });
const service = { dropEvery: 0, count: 0, dropped: [] as string[], honourTraceparent: true, failEvery: 0 };
let app: Server;
let appUrl = '';

before(async () => {
  await receiver.start();
  app = createServer(async (req, res) => {
    await readBody(req);
    const n = ++service.count;
    const parent = /^00-([0-9a-f]{32})-/.exec(String(req.headers.traceparent ?? ''))?.[1];
    const id = parent && service.honourTraceparent ? parent : randomBytes(16).toString('hex');
    if (service.dropEvery > 0 && n % service.dropEvery === 0) service.dropped.push(id);
    else {
      const r = await fetch(`${receiver.httpUrl}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: otlpSpan(id) });
      await r.arrayBuffer();
    }
    if (service.failEvery > 0 && n % service.failEvery === 0) {
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"detail":"overloaded"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'x-trace-id': id });
    res.end(JSON.stringify({ prediction: 4.0, model_name: 'simple-linear-demo', latency_ms: 1, trace_id: id }));
  });
  appUrl = await listen(app);
});

after(async () => {
  await close(app);
  await receiver.stop();
});

function setService(dropEvery: number, extra: Partial<typeof service> = {}): void {
  Object.assign(service, { dropEvery, count: 0, dropped: [], honourTraceparent: true, failEvery: 0, ...extra });
}

function options(overrides: Partial<LoadOptions>): LoadOptions {
  return {
    target: `${appUrl}/predict`,
    method: 'POST',
    body: '{"features":[0.5,1.5,2.0]}',
    requests: 30,
    durationMs: null,
    rate: null,
    concurrency: 5,
    timeoutMs: 5_000,
    propagate: false,
    ...overrides,
  };
}


test('the trace id comes from the body first, then the traceresponse header, then x-trace-id', () => {
  const a = 'a'.repeat(32);
  const b = 'b'.repeat(32);
  const c = 'c'.repeat(32);
  assert.equal(traceIdOf(`{"prediction":4.0,"trace_id":"${a}"}`, { traceresponse: `00-${b}-${'1'.repeat(16)}-01` }), a);
  assert.equal(traceIdOf('{"detail":"boom"}', { traceresponse: `00-${b}-${'1'.repeat(16)}-01`, 'x-trace-id': c }), b);
  assert.equal(traceIdOf(Buffer.from(`{"prediction":4.0,"trace_id": "${a}"}`), { 'x-trace-id': c }), a);
  assert.equal(traceIdOf(null, { 'x-trace-id': c.toUpperCase() }), c);
  assert.equal(traceIdOf(`{"trace_id":"${'0'.repeat(32)}"}`, {}), null);
  assert.equal(traceIdOf('{"trace_id":"not-hex"}', { 'x-trace-id': 'short' }), null);
});

test('the audit counts unique and duplicate ids and the responses without one', () => {
  const audit = auditTraces({ ids: ['a', 'b', 'a', 'c', 'a'], missing: 2, mismatched: 0 });
  assert.deepEqual(audit, { recorded: 5, unique: 3, duplicates: 2, duplicateIds: ['a'], missing: 2, mismatched: 0 });
  assert.deepEqual(uniqueIds({ ids: ['a', 'b', 'a'], missing: 0, mismatched: 0 }), ['a', 'b']);
});

test('generated traceparents are valid W3C values with distinct trace ids', () => {
  const source = new TraceparentSource();
  const ids = new Set<string>();
  for (let i = 0; i < 3_000; i++) {
    const [id, tp] = source.next();
    assert.match(tp, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    assert.equal(tp.slice(3, 35), id);
    assert.notEqual(id, '0'.repeat(32));
    ids.add(id);
  }
  assert.equal(ids.size, 3_000);
});

test('every response trace id is recorded and all of them are found in the real receiver', async () => {
  setService(0);
  const run = await runLoad(options({}));
  const audit = auditTraces(run.traces);
  assert.equal(audit.recorded, 30);
  assert.equal(audit.unique, 30);
  assert.equal(audit.missing, 0);
  for (const id of run.traces.ids) assert.match(id, HEX32);
  const d = await verifyTraces(receiver.httpUrl, uniqueIds(run.traces));
  assert.equal(d.error, null);
  assert.equal(d.delivered, 30);
  assert.deepEqual(d.missing, []);
});

test('the CLI prints Traces delivered N/M and names the ids the receiver never got', async () => {
  setService(3);
  const r = await cli(['--url', appUrl, '--requests', '30', '--rate', '100', '--verify-traces', receiver.httpUrl, '--verify-wait', '0s']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(service.dropped.length, 10);
  assert.match(r.stdout, /^Traces delivered: 20\/30$/m);
  const missingLine = /^ {2}missing: (.*)$/m.exec(r.stdout)?.[1] ?? '';
  const named = missingLine.replace(/ \(and \d+ more\)$/, '').split(', ');
  assert.equal(named.length, 5);
  for (const id of named) assert.ok(service.dropped.includes(id), `${id} was reported missing but was delivered`);
  assert.match(missingLine, /\(and 5 more\)$/);
  assert.match(r.stdout, /10 of 30 trace ids never reached the receiver/);
});

test('with --propagate the ids of failed requests are audited too, and a service that ignores them is flagged', async () => {
  setService(0, { failEvery: 2 });
  const run = await runLoad(options({ requests: 20, propagate: true }));
  assert.equal(run.failed, 10);
  assert.equal(run.traces.ids.length, 20);
  assert.equal(run.traces.mismatched, 0);
  const d = await verifyTraces(receiver.httpUrl, uniqueIds(run.traces));
  assert.equal(d.delivered, 20, `missing ${d.missing.join(', ')}`);

  setService(0, { honourTraceparent: false });
  const ignored = await runLoad(options({ requests: 10, propagate: true }));
  assert.equal(ignored.traces.mismatched, 10);
});

test('a receiver that answers with an error makes verification report the error, not a delivery count', async () => {
  const broken = createServer((_req, res) => res.writeHead(404).end('{"code":5}'));
  const url = await listen(broken);
  try {
    const d = await verifyTraces(url, ['a'.repeat(32)]);
    assert.match(d.error ?? '', /answered 404/);
    assert.equal(d.delivered, 0);
  } finally {
    await close(broken);
  }
});

test('ids are looked up in batches against a receiver that implements only the lookup contract', async () => {
  const known = new Set<string>();
  let calls = 0;
  const fake = createServer(async (req, res) => {
    calls++;
    const { trace_ids } = JSON.parse(await readBody(req)) as { trace_ids: string[] };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ received: trace_ids.filter((id) => known.has(id)), missing: trace_ids.filter((id) => !known.has(id)) }));
  });
  const url = await listen(fake);
  try {
    const ids = Array.from({ length: 25 }, () => randomBytes(16).toString('hex'));
    ids.slice(0, 23).forEach((id) => known.add(id));
    const d = await verifyTraces(url, ids, 10);
    assert.equal(calls, 3);
    assert.equal(d.delivered, 23);
    assert.deepEqual(d.missing, ids.slice(23));
  } finally {
    await close(fake);
  }
});
