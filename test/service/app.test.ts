// The HTTP API through Fastify's inject(): response shapes and every bad-input case. No SDK is registered here,
// so the API is no-op and trace ids come from the service's own fallback (still 32 hex, still unique).
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { buildApp } from '../../src/service/app.ts';
import { parseConfig } from '../../src/shared/config.ts';
import { appDeps, TELEMETRY_OFF } from '../helpers/app-deps.ts';

const HEX32 = /^[0-9a-f]{32}$/;

function make(env: Record<string, string> = {}) {
  const config = parseConfig({ DEFAULT_LATENCY_MS: '0', ...env }, '1.2.3');
  const built = buildApp(config, appDeps({ telemetry: { ...TELEMETRY_OFF, tracingEnabled: true, metricsEnabled: true } }));
  built.lifecycle.ready = true;
  return built;
}

describe('POST /predict and /predict/batch', () => {
  const { app } = make({ MAX_BATCH_SIZE: '3', MAX_FEATURES: '4', BODY_LIMIT_BYTES: '2048' });
  after(() => app.close());
  const predict = (payload: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }, url = '/predict') =>
    app.inject({ method: 'POST', url, headers, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) });

  test('the guide example predicts 4.0 with the model name, a latency and a trace id', async () => {
    const res = await predict({ features: [0.5, 1.5, 2.0] });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.deepEqual(Object.keys(body), ['prediction', 'model_name', 'latency_ms', 'trace_id']);
    assert.equal(body.prediction, 4.0);
    assert.equal(body.model_name, 'simple-linear-demo');
    assert.equal(typeof body.latency_ms, 'number');
    assert.match(body.trace_id, HEX32);
    assert.match(res.headers.traceresponse as string, new RegExp(`^00-${body.trace_id}-[0-9a-f]{16}-0[01]$`));
  });

  test('a batch gets one prediction per row and one trace id', async () => {
    const res = await predict({ instances: [[1, 2], [3, 4], [0.5, -0.5]] }, undefined, '/predict/batch');
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.deepEqual(body.predictions, [3, 7, 0]);
    assert.equal(body.batch_size, 3);
    assert.match(body.trace_id, HEX32);
  });

  test('a batch larger than MAX_BATCH_SIZE is refused with 422 naming the limit', async () => {
    const res = await predict({ instances: [[1], [2], [3], [4]] }, undefined, '/predict/batch');
    assert.equal(res.statusCode, 422);
    const body = res.json();
    assert.equal(body.code, 'ERR_BATCH_TOO_LARGE');
    assert.match(body.detail[0].msg, /at most 3 items \(MAX_BATCH_SIZE\)/);
    assert.match(body.trace_id, HEX32);
  });

  const invalid: [string, unknown, (string | number)[], string][] = [
    ['a missing features field', { invalid: 'data' }, ['body', 'features'], 'value_error.missing'],
    ['features that are not a list', { features: 'abc' }, ['body', 'features'], 'type_error.list'],
    ['an empty features list', { features: [] }, ['body', 'features'], 'value_error.list.min_items'],
    ['more features than MAX_FEATURES', { features: [1, 2, 3, 4, 5] }, ['body', 'features'], 'value_error.list.max_items'],
    ['a number written as a string', { features: [1, '2'] }, ['body', 'features', 1], 'type_error.float'],
    ['a null feature', { features: [null] }, ['body', 'features', 0], 'type_error.float'],
    ['a nested list', { features: [[1]] }, ['body', 'features', 0], 'type_error.float'],
    ['a body that is a list', [1, 2], ['body'], 'type_error.dict'],
    ['a batch without instances', { rows: [] }, ['body', 'instances'], 'value_error.missing'],
  ];
  for (const [what, body, loc, type] of invalid) {
    test(`${what} is a 422 in the guide's detail shape`, async () => {
      const url = what.startsWith('a batch') ? '/predict/batch' : '/predict';
      const res = await predict(body, undefined, url);
      assert.equal(res.statusCode, 422);
      const json = res.json();
      assert.equal(json.code, 'ERR_VALIDATION');
      assert.deepEqual(json.detail[0].loc, loc);
      assert.equal(json.detail[0].type, type);
      assert.equal(typeof json.detail[0].msg, 'string');
      assert.match(json.trace_id, HEX32);
    });
  }

  test('1e400 (Infinity after parsing) is a 422, not a prediction of Infinity', async () => {
    const res = await predict('{"features": [1e400, 1]}');
    assert.equal(res.statusCode, 422);
    assert.equal(res.json().detail[0].type, 'value_error.float.not_finite');
  });

  const refused: [string, () => ReturnType<typeof predict>, number, string][] = [
    ['malformed JSON', () => predict('{"features": [1,'), 400, 'ERR_BAD_JSON'],
    ['an empty JSON body', () => predict(''), 400, 'ERR_BAD_JSON'],
    ['a __proto__ key', () => predict('{"features":[1],"__proto__":{"x":1}}'), 400, 'ERR_BAD_JSON'],
    ['a form content type', () => predict('features=1', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
    ['a text content type', () => predict('{"features":[1]}', { 'content-type': 'text/plain' }), 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
    ['a body over BODY_LIMIT_BYTES', () => predict({ features: Array(1000).fill(1.2345) }), 413, 'ERR_BODY_TOO_LARGE'],
  ];
  for (const [what, send, status, code] of refused) {
    test(`${what} is a ${status} with code ${code} and a trace id`, async () => {
      const res = await send();
      assert.equal(res.statusCode, status);
      const json = res.json();
      assert.equal(json.code, code);
      assert.equal(typeof json.detail, 'string');
      assert.match(json.trace_id, HEX32);
      assert.ok(res.headers.traceresponse, 'traceresponse header on errors too');
      assert.doesNotMatch(res.body, /at .*\.(ts|js):\d+/, 'no stack trace in the body');
    });
  }

  test('an unknown route is a JSON 404 and a wrong method on a known route a 405', async () => {
    const notFound = await app.inject({ method: 'GET', url: '/nope?x=1' });
    assert.equal(notFound.statusCode, 404);
    assert.equal(notFound.json().detail, 'Not Found');
    assert.match(notFound.json().trace_id, HEX32);
    const wrongMethod = await app.inject({ method: 'GET', url: '/predict' });
    assert.equal(wrongMethod.statusCode, 405);
    assert.equal(wrongMethod.json().code, 'ERR_METHOD_NOT_ALLOWED');
  });

  test('100 requests get 100 distinct trace ids', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 100; i++) ids.add((await predict({ features: [i] })).json().trace_id);
    assert.equal(ids.size, 100);
  });
});

describe('health and probes', () => {
  test('GET /health has the guide fields plus metrics, service, model and version', async () => {
    const { app } = make({ APP_ENV: 'staging', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4317' });
    const body = (await app.inject({ method: 'GET', url: '/health' })).json();
    assert.equal(body.status, 'ok');
    assert.equal(body.env, 'staging');
    assert.equal(body.tracing_enabled, true);
    assert.equal(body.metrics_enabled, true);
    assert.equal(body.collector_endpoint, 'http://otel-collector:4317');
    assert.equal(body.service_name, 'ai-inference-service');
    assert.equal(body.model_name, 'simple-linear-demo');
    assert.equal(body.version, '1.2.3');
    await app.close();
  });

  test('while draining, a request is served and answered with Connection: close', async () => {
    const { app, lifecycle } = make();
    lifecycle.closing = true;
    lifecycle.deadline = Date.now() + 60_000;
    const res = await app.inject({ method: 'POST', url: '/predict', payload: { features: [1] } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().prediction, 1);
    assert.equal(res.headers.connection, 'close');
    await app.close();
  });

  test('past the shutdown deadline, a request gets 503 ERR_SHUTTING_DOWN with Retry-After and a trace id', async () => {
    const { app, lifecycle } = make();
    lifecycle.closing = true;
    lifecycle.deadline = Date.now() - 1;
    const res = await app.inject({ method: 'POST', url: '/predict', payload: { features: [1] } });
    assert.equal(res.statusCode, 503);
    assert.equal(res.json().code, 'ERR_SHUTTING_DOWN');
    assert.equal(res.headers['retry-after'], '1');
    assert.equal(res.headers.connection, 'close');
    assert.match(res.json().trace_id, HEX32);
    await app.close();
  });

  test('readiness follows the lifecycle while liveness stays up', async () => {
    const { app, lifecycle } = make();
    assert.equal((await app.inject({ url: '/readyz' })).statusCode, 200);
    lifecycle.ready = false;
    assert.equal((await app.inject({ url: '/readyz' })).statusCode, 503);
    assert.equal((await app.inject({ url: '/livez' })).statusCode, 200);
    assert.equal((await app.inject({ url: '/health' })).json().status, 'draining');
    await app.close();
  });
});

describe('the linear model', () => {
  test('configured weights and bias give w.x + b, and rows of another length are refused', async () => {
    const { app } = make({ MODEL_WEIGHTS: '2,0.5,-1', MODEL_BIAS: '10' });
    const ok = await app.inject({ method: 'POST', url: '/predict', payload: { features: [1, 2, 3] } });
    assert.equal(ok.json().prediction, 2 + 1 - 3 + 10);
    const wrong = await app.inject({ method: 'POST', url: '/predict', payload: { features: [1, 2] } });
    assert.equal(wrong.statusCode, 422);
    assert.equal(wrong.json().detail[0].type, 'value_error.list.size');
    await app.close();
  });
});

describe('admission control and limits', () => {
  test('past MODEL_CONCURRENCY + MAX_QUEUE a request is refused at once with 503 and Retry-After', async () => {
    const { app, admission } = make({ DEFAULT_LATENCY_MS: '300', LATENCY_JITTER_MS: '0', MODEL_CONCURRENCY: '2', MAX_QUEUE: '1' });
    const send = () => app.inject({ method: 'POST', url: '/predict', payload: { features: [1] } });
    const admitted = [send(), send(), send()];
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(admission.inFlight, 2);
    assert.equal(admission.queued, 1);
    const started = performance.now();
    const refused = await send();
    assert.ok(performance.now() - started < 100, 'refused without waiting for the model');
    assert.equal(refused.statusCode, 503);
    assert.equal(refused.headers['retry-after'], '1');
    assert.equal(refused.json().code, 'ERR_OVERLOADED');
    const results = await Promise.all(admitted);
    assert.deepEqual(results.map((r) => r.statusCode), [200, 200, 200], 'the admitted ones all complete');
    assert.equal(admission.inFlight, 0);
    assert.equal(admission.rejected, 1);
    const health = (await app.inject({ url: '/health' })).json();
    assert.deepEqual(health.model_queue, { in_flight: 0, queued: 0, rejected: 1 });
    await app.close();
  });

  test('predictions_by_model counts rows by what the model did: success (even when its answer overflows JSON) and rejected (queue full)', async () => {
    const deps = appDeps();
    const config = parseConfig({ DEFAULT_LATENCY_MS: '200', LATENCY_JITTER_MS: '0', MODEL_CONCURRENCY: '1', MAX_QUEUE: '0', MODEL_WEIGHTS: '1e308' }, '1.2.3');
    const { app, lifecycle, admission } = buildApp(config, deps);
    lifecycle.ready = true;
    const send = (url: string, payload: unknown) => app.inject({ method: 'POST', url, payload: payload as object });
    const first = send('/predict/batch', { instances: [[0.1], [0.2], [0.3]] });
    for (let i = 0; i < 1000 && admission.inFlight === 0; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal((await send('/predict/batch', { instances: [[0.1], [0.2]] })).statusCode, 503);
    assert.equal((await first).statusCode, 200);
    assert.equal((await send('/predict', { features: [10] })).statusCode, 422, '1e308 x 10 overflows');
    const rows: Record<string, number> = {};
    deps.instruments.predictionsByModel.observe({ observe: (v, a) => void (rows[`${a!['model.name']} ${a!.outcome}`] = v) });
    // The model answered the overflowing row (Infinity); the 422 is the API refusing to put it in JSON.
    assert.deepEqual(rows, { 'simple-linear-demo success': 4, 'simple-linear-demo rejected': 2 });
    await app.close();
  });

  test('a client that does not finish its request within REQUEST_TIMEOUT_MS gets 408 and is disconnected', async () => {
    const { app } = make({ REQUEST_TIMEOUT_MS: '300' });
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const { port } = app.server.address() as import('node:net').AddressInfo;
      const { connect } = await import('node:net');
      const socket = connect(port, '127.0.0.1');
      socket.write('POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"feat');
      let answer = '';
      socket.on('data', (d) => (answer += d.toString()));
      await new Promise((resolve) => socket.on('close', resolve));
      assert.match(answer, /^HTTP\/1\.1 408/);
    } finally {
      await app.close();
    }
  });

  test('a header block over MAX_HEADER_BYTES is refused with 431', async () => {
    const { app } = make({ MAX_HEADER_BYTES: '2048' });
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const { port } = app.server.address() as import('node:net').AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}/health`, { headers: { 'x-big': 'a'.repeat(4096) } });
      assert.equal(res.status, 431);
    } finally {
      await app.close();
    }
  });
});
