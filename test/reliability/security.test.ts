// Security checks of the issue: error bodies (4xx and 5xx) carry no stack trace, no exception message and no file
// path; request header values (and the URL) are not echoed into response headers or bodies; a header value with a
// bare CR cannot inject a response header.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { InjectOptions } from 'fastify';
import { buildApp } from '../../src/service/app.ts';
import { parseConfig } from '../../src/shared/config.ts';
import type { TelemetryStatus } from '../../src/telemetry/sdk.ts';
import { appDeps, TELEMETRY_OFF } from '../helpers/app-deps.ts';
import { OtlpReceiver } from '../../src/receiver/receiver.ts';
import { fastExportEnv, startService, type RunningService } from '../helpers/service.ts';

const STACK = /\n\s+at |\bat .+:\d+:\d+|\.(?:ts|js):\d+/;
const SECRET = 'SECRET-0f9e8d7c-internal-detail';
const MARKER = 'm4rk3r-z9x8';

function make(env: Record<string, string>, stats: TelemetryStatus['stats'] = () => ({})) {
  const config = parseConfig({ DEFAULT_LATENCY_MS: '0', BODY_LIMIT_BYTES: '1024', ...env }, '1.0.0');
  const built = buildApp(config, appDeps({ telemetry: { ...TELEMETRY_OFF, stats } }));
  built.lifecycle.ready = true;
  return built.app;
}

function assertClean(what: string, status: number, body: string): void {
  assert.doesNotMatch(body, STACK, `${what} (${status}) leaks a stack: ${body}`);
  assert.ok(!body.includes(SECRET), `${what} (${status}) leaks the exception message: ${body}`);
  assert.ok(!body.includes('/work/') && !body.includes('node_modules'), `${what} (${status}) leaks a path: ${body}`);
  const parsed = JSON.parse(body) as Record<string, unknown>;
  assert.deepEqual(Object.keys(parsed), ['detail', 'code', 'trace_id'], what);
}

describe('error bodies leak nothing', () => {
  // /health's telemetry counters throw here: the only way to reach the 500 path without changing the service.
  const app = make({}, () => {
    throw new Error(`${SECRET} at /work/main/src/secret.ts:12:34`);
  });
  const busy = make({ DEFAULT_LATENCY_MS: '300', MODEL_CONCURRENCY: '1', MAX_QUEUE: '0' });
  after(async () => {
    await app.close();
    await busy.close();
  });

  test('4xx bodies (400, 404, 405, 413, 415, 422) carry no stack trace, path or exception text', async () => {
    const cases: [string, InjectOptions][] = [
      ['malformed JSON', { method: 'POST', url: '/predict', headers: { 'content-type': 'application/json' }, payload: '{"features": [1,' }],
      ['__proto__ key', { method: 'POST', url: '/predict', headers: { 'content-type': 'application/json' }, payload: '{"__proto__":{"x":1}}' }],
      ['unknown route', { method: 'GET', url: '/nope' }],
      ['wrong method', { method: 'DELETE', url: '/predict' }],
      ['oversized body', { method: 'POST', url: '/predict', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ features: Array(2000).fill(1) }) }],
      ['text body', { method: 'POST', url: '/predict', headers: { 'content-type': 'text/plain' }, payload: 'hello' }],
      ['invalid features', { method: 'POST', url: '/predict', headers: { 'content-type': 'application/json' }, payload: '{"features":["x"]}' }],
    ];
    const seen = new Set<number>();
    for (const [what, req] of cases) {
      const res = await app.inject(req);
      assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${what}: ${res.statusCode}`);
      seen.add(res.statusCode);
      assertClean(what, res.statusCode, res.body);
    }
    assert.deepEqual([...seen].sort(), [400, 404, 405, 413, 415, 422]);
  });

  test('a 500 answers "Internal Server Error" without the exception, and a 503 without internals', async () => {
    const res = await app.inject({ method: 'GET', url: '/health' });
    assert.equal(res.statusCode, 500);
    assertClean('exception in a handler', 500, res.body);
    assert.equal(res.json().code, 'ERR_INTERNAL');
    assert.equal(res.json().detail, 'Internal Server Error');

    const first = busy.inject({ method: 'POST', url: '/predict', headers: { 'content-type': 'application/json' }, payload: '{"features":[1]}' });
    await new Promise((r) => setTimeout(r, 50));
    const refused = await busy.inject({ method: 'POST', url: '/predict', headers: { 'content-type': 'application/json' }, payload: '{"features":[1]}' });
    assert.equal(refused.statusCode, 503);
    assert.equal(refused.headers['retry-after'], '1');
    assertClean('overloaded', 503, refused.body);
    assert.equal((await first).statusCode, 200);
  });
});

describe('request headers are not echoed', () => {
  const receiver = new OtlpReceiver({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, healthPort: 0, print: false, store: false });
  let svc: RunningService;
  before(async () => {
    await receiver.start();
    svc = await startService({ ...fastExportEnv(receiver.grpcUrl), BODY_LIMIT_BYTES: '1024' });
  });
  after(async () => {
    await svc?.stop('SIGKILL');
    await receiver.stop();
  });

  test('no header value or URL part comes back in a response header or body, on success or error', async () => {
    const headers = {
      'user-agent': `ua-${MARKER}`,
      'x-forwarded-host': `${MARKER}.example`,
      'x-request-id': MARKER,
      referer: `http://${MARKER}/`,
      traceparent: `00-${MARKER}-zz-01`,
      tracestate: `k=${MARKER}`,
      cookie: `s=${MARKER}`,
    };
    const requests: [string, RequestInit][] = [
      [`/predict`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{"features":[1]}' }],
      [`/predict`, { method: 'POST', headers: { ...headers, 'content-type': `text/${MARKER}` }, body: 'x' }],
      [`/predict`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: `{"${MARKER}":1}` }],
      [`/${MARKER}?q=${MARKER}`, { method: 'GET', headers }],
      [`/predict?${MARKER}=1`, { method: 'PUT', headers }],
    ];
    for (const [path, init] of requests) {
      const res = await fetch(svc.url + path, init);
      const body = await res.text();
      const headerText = [...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n');
      assert.ok(!headerText.includes(MARKER), `${init.method} ${path} (${res.status}) echoes into headers:\n${headerText}`);
      assert.ok(!body.includes(MARKER), `${init.method} ${path} (${res.status}) echoes into the body: ${body}`);
    }
  });

  test('a bare CR inside a header value is refused with 400 and injects no header', async () => {
    const { hostname, port } = new URL(svc.url);
    const answer = await new Promise<string>((resolve) => {
      let text = '';
      const socket = connect(Number(port), hostname);
      socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(text));
      socket.end(`GET /livez HTTP/1.1\r\nHost: x\r\ntraceparent: 00-ab\rX-Injected: ${MARKER}\r\nConnection: close\r\n\r\n`);
    });
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.ok(!answer.includes(MARKER), answer);
    console.log(`FIGURE security: no stack, path or exception text in 400/404/405/413/415/422/500/503 bodies; no header echo; bare CR -> ${answer.split('\r\n')[0]}`);
  });
});
