// Scenario 5: bad input, fuzzed with fast-check. 10,000 cases through Fastify's inject() over /predict and
// /predict/batch (bodies: random JSON, random bytes, number spellings, huge and deeply nested arrays, __proto__ and
// constructor keys, duplicate keys, wrong and missing content types, oversized bodies) with an exact oracle where
// the answer is known; then a few hundred over real HTTP to the real service (garbage traceparent/tracestate, raw
// bytes on the socket, very long headers). Every answer is 200 for valid input, else a 4xx with the documented shape
// and a trace id; never a 5xx; the process never exits; memory does not grow.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { buildApp } from '../../src/service/app.ts';
import { parseConfig } from '../../src/shared/config.ts';
import { appDeps } from '../helpers/app-deps.ts';
import { rssMiB } from '../../scripts/reliability/harness.ts';
import { OtlpReceiver } from '../../src/receiver/receiver.ts';
import { fastExportEnv, startService, type RunningService } from '../helpers/service.ts';

const HEX32 = /^[0-9a-f]{32}$/;
const CODE = /^ERR_[A-Z_]+$/;
const STACK = /\n\s+at |\.(?:ts|js):\d+:\d+/;
const LIMITS = { MAX_FEATURES: '64', MAX_BATCH_SIZE: '8', BODY_LIMIT_BYTES: String(64 * 1024) };
const BODY_LIMIT = 64 * 1024;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapMiB = (): number => {
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

// ---- The oracle: what the documented API answers for a parsed body ------------------------------------------------

type Expected = { status: 200; prediction?: number; predictions?: number[] } | { status: 400 | 413 | 415 | 422; code: string };

function expectRow(row: unknown): Expected | number[] {
  if (!Array.isArray(row)) return { status: 422, code: 'ERR_VALIDATION' };
  if (row.length === 0 || row.length > Number(LIMITS.MAX_FEATURES)) return { status: 422, code: 'ERR_VALIDATION' };
  if (!row.every((x) => typeof x === 'number' && Number.isFinite(x))) return { status: 422, code: 'ERR_VALIDATION' };
  return row as number[];
}

const isDict = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
// w = 1, b = 0 (no MODEL_WEIGHTS), and the postprocess stage rounds to 6 decimals.
/** w.x + b with unit weights, rounded to six decimals where that is representable (as the service does). */
const sum = (row: number[]): number => {
  const p = row.reduce((a, b) => a + b, 0);
  return Math.abs(p) < 1e15 ? Math.round(p * 1e6) / 1e6 : p;
};

/** The answer for a JSON text with content type application/json, or null when only "some 4xx" is known. */
function expectFor(path: '/predict' | '/predict/batch', text: string): Expected | null {
  if (Buffer.byteLength(text) > BODY_LIMIT) return { status: 413, code: 'ERR_BODY_TOO_LARGE' };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { status: 400, code: 'ERR_BAD_JSON' };
  }
  if (text.trim() === '') return { status: 400, code: 'ERR_BAD_JSON' };
  // Fastify's secure parser refuses __proto__ keys and constructor.prototype anywhere in the body.
  if (/"__proto__"\s*:/.test(text) || /"constructor"\s*:\s*\{[^]*"prototype"\s*:/.test(text)) return null;
  if (!isDict(body)) return { status: 422, code: 'ERR_VALIDATION' };
  if (path === '/predict') {
    const row = expectRow(body.features);
    if (!Array.isArray(row)) return row;
    // A sum past the largest float64 is refused as not finite (422), never answered as null.
    return Number.isFinite(sum(row)) ? { status: 200, prediction: sum(row) } : { status: 422, code: 'ERR_VALIDATION' };
  }
  const rows = body.instances;
  if (!Array.isArray(rows) || rows.length === 0) return { status: 422, code: 'ERR_VALIDATION' };
  if (rows.length > Number(LIMITS.MAX_BATCH_SIZE)) return { status: 422, code: 'ERR_BATCH_TOO_LARGE' };
  const checked = rows.map(expectRow);
  const bad = checked.find((r) => !Array.isArray(r));
  if (bad !== undefined) return bad as Expected;
  const predictions = (checked as number[][]).map(sum);
  return predictions.every(Number.isFinite) ? { status: 200, predictions } : { status: 422, code: 'ERR_VALIDATION' };
}

// ---- Generators -----------------------------------------------------------------------------------------------

const SPELLINGS = ['NaN', 'Infinity', '-Infinity', '1e400', '-1e400', '1e-400', '-0', '0x1F', '1_000', '+1', '.5', '5.', '01', '"1"', '"NaN"', 'null', 'true', '[]', '{}', '[1]', '1', '2.5e3', '-7', '1.7976931348623157e308'];
const number = fc.oneof(fc.double(), fc.integer(), fc.constantFrom(0, -0, 1e308, -1e308, Number.MIN_VALUE, 2 ** 53 + 1));
const element = fc.oneof({ weight: 6, arbitrary: number }, fc.constantFrom<unknown>('2', 'NaN', 'Infinity', null, true, [1], {}, ''));
const row = fc.array(element, { minLength: 0, maxLength: 80 });
const finiteRow = fc.array(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }), { minLength: 1, maxLength: 64 });
const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx', 'json', '', '*/*', 'application/xml', 'application/json;;;'];

interface Case {
  path: '/predict' | '/predict/batch';
  method: string;
  contentType: string | null;
  payload: string | Buffer;
  headers?: Record<string, string>;
}

const path = fc.constantFrom<'/predict' | '/predict/batch'>('/predict', '/predict/batch');
const json = (path: Case['path'], payload: string | Buffer): Case => ({ path, method: 'POST', contentType: 'application/json', payload });

const cases: fc.Arbitrary<Case> = fc.oneof(
  // Well-formed requests, valid and not: the exact oracle applies.
  { weight: 4, arbitrary: finiteRow.map((r) => json('/predict', JSON.stringify({ features: r }))) },
  { weight: 3, arbitrary: fc.array(finiteRow, { minLength: 1, maxLength: 10 }).map((rs) => json('/predict/batch', JSON.stringify({ instances: rs }))) },
  { weight: 4, arbitrary: row.map((r) => json('/predict', JSON.stringify({ features: r }))) },
  { weight: 3, arbitrary: fc.array(row, { maxLength: 12 }).map((rs) => json('/predict/batch', JSON.stringify({ instances: rs }))) },
  // Random JSON, random objects with the right key and a random value.
  { weight: 3, arbitrary: fc.tuple(path, fc.json()).map(([p, j]) => json(p, j)) },
  { weight: 2, arbitrary: fc.tuple(path, fc.jsonValue()).map(([p, v]) => json(p, JSON.stringify({ features: v, instances: v }))) },
  // Number spellings JSON does and does not allow, spliced into the text.
  {
    weight: 3,
    arbitrary: fc.tuple(path, fc.array(fc.constantFrom(...SPELLINGS), { minLength: 1, maxLength: 6 })).map(([p, xs]) =>
      json(p, p === '/predict' ? `{"features":[${xs.join(',')}]}` : `{"instances":[[${xs.join(',')}]]}`),
    ),
  },
  // __proto__ / constructor keys, duplicate keys.
  {
    weight: 2,
    arbitrary: fc.tuple(path, fc.constantFrom('{"__proto__":{"isAdmin":true},"features":[1]}', '{"features":[1],"__proto__":[]}', '{"constructor":{"prototype":{"x":1}},"features":[1]}', '{"features":[1],"a":{"__proto__":{}}}', '{"constructor":1,"features":[2]}', '{"instances":[[1]],"constructor":{"prototype":null}}')).map(([p, t]) => json(p, t)),
  },
  { weight: 2, arbitrary: fc.tuple(row, row).map(([a, b]) => json('/predict', `{"features":${JSON.stringify(a)},"features":${JSON.stringify(b)}}`)) },
  // Deeply nested and huge arrays (some beyond BODY_LIMIT_BYTES).
  {
    weight: 2,
    arbitrary: fc.tuple(path, fc.integer({ min: 1, max: 40_000 })).map(([p, d]) =>
      json(p, `{"${p === '/predict' ? 'features' : 'instances'}":${'['.repeat(d)}1${']'.repeat(d)}}`),
    ),
  },
  { weight: 1, arbitrary: fc.tuple(path, fc.integer({ min: 60, max: 20_000 })).map(([p, n]) => json(p, JSON.stringify(p === '/predict' ? { features: Array(n).fill(1) } : { instances: Array(n).fill([1]) }))) },
  // Random bytes with a JSON content type.
  { weight: 3, arbitrary: fc.tuple(path, fc.uint8Array({ maxLength: 256 })).map(([p, b]) => json(p, Buffer.from(b))) },
  // Wrong, odd and missing content types; other methods.
  {
    weight: 3,
    arbitrary: fc.record({
      path,
      method: fc.constantFrom('POST', 'POST', 'PUT', 'PATCH', 'DELETE', 'GET', 'OPTIONS'),
      contentType: fc.oneof(fc.constantFrom<string | null>(...CONTENT_TYPES, null), fc.string({ maxLength: 40 })),
      payload: fc.oneof(fc.constant('{"features":[1,2]}'), fc.json(), fc.string()),
    }),
  },
);

function check(c: Case, res: { statusCode: number; headers: Record<string, unknown>; body: string }): void {
  const where = `${c.method} ${c.path} content-type=${JSON.stringify(c.contentType)} body=${JSON.stringify(String(c.payload).slice(0, 120))}`;
  assert.ok(res.statusCode < 500, `${res.statusCode} for ${where}: ${res.body.slice(0, 300)}`);
  assert.ok(res.statusCode === 200 || (res.statusCode >= 400 && res.statusCode < 500), `${res.statusCode} for ${where}`);
  assert.match(String(res.headers.traceresponse), /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/, where);
  if (c.method === 'OPTIONS' || (c.method === 'GET' && res.statusCode === 404)) return;
  const body = JSON.parse(res.body) as Record<string, unknown>;
  assert.match(String(body.trace_id), HEX32, where);
  assert.equal(String(res.headers.traceresponse).split('-')[1], body.trace_id, where);
  if (res.statusCode >= 400) {
    assert.deepEqual(Object.keys(body), ['detail', 'code', 'trace_id'], where);
    assert.match(String(body.code), CODE, where);
    assert.ok(typeof body.detail === 'string' || Array.isArray(body.detail), where);
    assert.doesNotMatch(res.body, STACK, where);
  }
  if (c.method !== 'POST' || c.contentType !== 'application/json') return;
  const expected = expectFor(c.path, Buffer.isBuffer(c.payload) ? c.payload.toString('utf8') : c.payload);
  if (Buffer.isBuffer(c.payload) && !Buffer.from(c.payload.toString('utf8')).equals(c.payload)) {
    // Invalid UTF-8: the parser may see replacement characters; only "200 or 4xx, shaped" is known.
    return;
  }
  if (expected === null) {
    assert.ok(res.statusCode === 400 || res.statusCode === 422 || res.statusCode === 200, where);
    return;
  }
  assert.equal(res.statusCode, expected.status, `${where}: ${res.body.slice(0, 300)}`);
  if (expected.status !== 200) {
    assert.equal(body.code, (expected as { code: string }).code, where);
    return;
  }
  // Summation order may differ from ours: allow one unit of the 6th decimal, or 1e-9 relative for large values.
  const close = (a: unknown, b: number) => typeof a === 'number' && (a === b || Math.abs(a - b) <= Math.max(1e-6, 1e-9 * Math.abs(b)));
  // Predictions above 1e15 are not rounded to six decimals; the tolerance above covers them.
  if (expected.prediction !== undefined) {
    assert.ok(close(body.prediction, expected.prediction), `${where}: ${body.prediction} != ${expected.prediction}`);
  }
  if (expected.predictions !== undefined) {
    const got = body.predictions as number[];
    assert.equal(got.length, expected.predictions.length, where);
    expected.predictions.forEach((p, i) => assert.ok(close(got[i], p), `${where}: row ${i}: ${got[i]} != ${p}`));
  }
}


describe('fuzzing /predict and /predict/batch through inject()', () => {
  const config = parseConfig({ DEFAULT_LATENCY_MS: '0', ...LIMITS }, '1.0.0');
  const { app, lifecycle } = buildApp(config, appDeps());
  lifecycle.ready = true;
  after(() => app.close());

  test('10,000 generated requests: 200 for valid input, else a shaped 4xx with a trace id, never a 5xx; heap flat', async () => {
    const CHUNKS = 5;
    const PER_CHUNK = 2_000;
    let count = 0;
    const statuses: Record<string, number> = {};
    const heap: number[] = [];
    for (let chunk = 0; chunk < CHUNKS; chunk++) {
      await fc.assert(
        fc.asyncProperty(cases, async (c) => {
          const headers: Record<string, string> = { ...c.headers };
          if (c.contentType !== null) headers['content-type'] = c.contentType;
          const res = await app.inject({ method: c.method as 'POST', url: c.path, headers, payload: c.payload });
          count++;
          statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
          check(c, res);
        }),
        { numRuns: PER_CHUNK, seed: 20_260_000 + chunk + Number(process.env.FUZZ_SEED ?? 0) * 100 },
      );
      heap.push(heapMiB());
    }
    const growth = heap.at(-1)! - heap[1]!; // from after the first chunk (warm) to the end
    console.log(`FIGURE fuzz-inject: ${count} cases, statuses ${JSON.stringify(statuses)}, heap after each 2,000: ${heap.map((h) => h.toFixed(1)).join(', ')} MiB`);
    assert.equal(count, CHUNKS * PER_CHUNK);
    assert.ok(statuses['200']! > 500 && statuses['422']! > 500 && statuses['400']! > 100, JSON.stringify(statuses));
    assert.ok(growth < 24, `heap grew ${growth.toFixed(1)} MiB over 8,000 cases`);
  });

  test(
    'a valid row whose prediction exceeds ~1.8e302 gets its prediction, or a 422, never a 200 with null',
    async () => {
      for (const features of [[1e308], [-1e305], [1e308, 1e308]]) {
        const res = await app.inject({ method: 'POST', url: '/predict', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ features }) });
        const body = res.json() as { prediction?: unknown; code?: string };
        if (res.statusCode === 200) assert.ok(typeof body.prediction === 'number' && Number.isFinite(body.prediction), `${JSON.stringify(features)} -> ${res.body}`);
        else assert.equal(res.statusCode, 422, res.body);
      }
    },
  );
});

// ---- Over real HTTP, to the real service --------------------------------------------------------------------------

/** Writes raw bytes on a fresh connection and returns the status line's code (0 when closed without an answer). */
function raw(url: string, bytes: Buffer | string): Promise<{ status: number; text: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let text = '';
    const done = () => resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0), text });
    socket.setTimeout(3_000, () => socket.destroy());
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', done);
    socket.end(bytes);
  });
}

const TOKEN = fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF-_=,;: \t.x'.split('')), maxLength: 70 });
const HEXN = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'.split('')), minLength: n, maxLength: n });
const traceparent = fc.oneof(
  TOKEN,
  fc.tuple(HEXN(32), HEXN(16), fc.constantFrom('00', '01', 'ff', '0')).map(([t, s, f]) => `00-${t}-${s}-${f}`),
  fc.tuple(fc.constantFrom('00', 'ff', '01', 'zz'), HEXN(32), HEXN(16), HEXN(2)).map(([v, t, s, f]) => `${v}-${t}-${s}-${f}`),
  fc.constantFrom('00-00000000000000000000000000000000-0000000000000000-01', '00-' + 'a'.repeat(32) + '-' + '0'.repeat(16) + '-01', ''),
);
const VALID_PARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

describe('fuzzing the real service over HTTP', () => {
  // A counting receiver (decodes nothing), so that tracing is on and propagation is the production one.
  const receiver = new OtlpReceiver({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, healthPort: 0, print: false, store: false });
  let svc: RunningService;
  let rssBefore = 0;
  let count = 0;
  before(async () => {
    await receiver.start();
    svc = await startService({ ...fastExportEnv(receiver.grpcUrl), DEFAULT_LATENCY_MS: '0', MAX_HEADER_BYTES: '8192', ...LIMITS });
    rssBefore = rssMiB(svc.proc.pid!);
  });
  after(async () => {
    await svc?.stop('SIGKILL');
    await receiver.stop();
  });

  test('garbage traceparent and tracestate never break a request; a valid parent continues its trace', async () => {
    await fc.assert(
      fc.asyncProperty(traceparent, TOKEN, async (tp, ts) => {
        count++;
        const res = await fetch(`${svc.url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json', traceparent: tp, tracestate: ts }, body: '{"features":[1,2]}' });
        const body = (await res.json()) as { trace_id: string; prediction: number };
        assert.equal(res.status, 200, `traceparent ${JSON.stringify(tp)}`);
        assert.equal(body.prediction, 3);
        assert.match(body.trace_id, HEX32);
        const m = VALID_PARENT.exec(tp);
        if (m && !/^0+$/.test(m[1]!) && !/^0+$/.test(m[2]!)) assert.equal(body.trace_id, m[1], `traceparent ${tp}`);
        else assert.notEqual(body.trace_id, m?.[1]);
      }),
      { numRuns: 200, seed: 7 },
    );
  });

  test('random bytes on the socket get a 4xx or a closed connection, never a 5xx', async () => {
    const request = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.tuple(fc.constantFrom('GET', 'POST', 'BREW', 'G\x00T', ''), fc.string({ maxLength: 30 }), fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/9.9', 'HTTP/1.1\r\nHost'), fc.string({ maxLength: 60 })).map(
        ([m, p, v, h]) => `${m} /${p} ${v}\r\nHost: x\r\n${h}\r\n\r\n`,
      ),
      fc.tuple(fc.integer({ min: 0, max: 200 }), fc.string({ maxLength: 80 })).map(
        ([len, body]) => `POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${len}\r\nConnection: close\r\n\r\n${body}`,
      ),
    );
    const statuses: Record<number, number> = {};
    await fc.assert(
      fc.asyncProperty(request, async (bytes) => {
        count++;
        const { status, text } = await raw(svc.url, bytes);
        statuses[status] = (statuses[status] ?? 0) + 1;
        assert.ok(status === 0 || status === 200 || (status >= 400 && status < 500), `${status} for ${JSON.stringify(String(bytes).slice(0, 100))}: ${text.slice(0, 200)}`);
        assert.doesNotMatch(text, STACK);
      }),
      { numRuns: 150, seed: 11 },
    );
    console.log(`FIGURE fuzz-socket: statuses ${JSON.stringify(statuses)} (0 = closed without an answer)`);
  });

  test('header blocks over MAX_HEADER_BYTES get 431, just under it is served', async () => {
    for (const size of [9_000, 20_000, 200_000]) {
      count++;
      const { status } = await raw(svc.url, `GET /health HTTP/1.1\r\nHost: x\r\nX-Long: ${'a'.repeat(size)}\r\nConnection: close\r\n\r\n`);
      assert.equal(status, 431, `${size} bytes of header`);
    }
    count++;
    const { status } = await raw(svc.url, `GET /livez HTTP/1.1\r\nHost: x\r\nX-Long: ${'a'.repeat(6_000)}\r\nConnection: close\r\n\r\n`);
    assert.equal(status, 200);
  });

  test('after all of it the process is alive, healthy and its RSS bounded', async () => {
    assert.equal(svc.proc.exitCode, null);
    assert.equal((await fetch(`${svc.url}/health`)).status, 200);
    const rssAfter = rssMiB(svc.proc.pid!);
    console.log(`FIGURE fuzz-http: ${count} cases over real HTTP, process alive, RSS ${rssBefore.toFixed(0)} -> ${rssAfter.toFixed(0)} MiB`);
    assert.ok(rssAfter < rssBefore + 64, `RSS ${rssBefore} -> ${rssAfter} MiB`);
  });
});
