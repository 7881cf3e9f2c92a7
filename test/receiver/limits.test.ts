// The receiver's size limit holds after decompression: compression bombs on OTLP/HTTP and OTLP/gRPC are refused
// early, without inflating them, and the receiver keeps serving.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createDeflate, createGzip, gzipSync, type Gzip, type Deflate } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { SIGNALS } from '../../src/receiver/otlp-model.ts';
import { DEFAULT_MAX_BODY_BYTES, OtlpReceiver } from '../../src/receiver/receiver.ts';

const MiB = 1024 * 1024;
const LIMIT = 1 * MiB;
const BOMB_BYTES = 128 * MiB;
const TRACE = '5b8aa5a2d2c872e8321cf37308d69df2';

function encodedTrace(name: string): Buffer {
  const request = SIGNALS.traces.request.fromObject({
    resourceSpans: [
      {
        scopeSpans: [
          {
            spans: [
              { traceId: Buffer.from(TRACE, 'hex'), spanId: Buffer.from('051581bf3cb55c01', 'hex'), name, kind: 2, startTimeUnixNano: '1', endTimeUnixNano: '2' },
            ],
          },
        ],
      },
    ],
  });
  return Buffer.from(SIGNALS.traces.request.encode(request).finish());
}

/** `bytes` zeros through a compressor, fed 1 MiB at a time so this process never holds the inflated size. */
async function bomb(compressor: Gzip | Deflate, bytes: number): Promise<Buffer> {
  const out: Buffer[] = [];
  compressor.on('data', (c: Buffer) => out.push(c));
  const done = new Promise((resolve, reject) => compressor.on('end', resolve).on('error', reject));
  const zeros = Buffer.alloc(MiB);
  for (let sent = 0; sent < bytes; sent += MiB) {
    if (!compressor.write(zeros)) await new Promise((resolve) => compressor.once('drain', resolve));
  }
  compressor.end();
  await done;
  return Buffer.concat(out);
}

/** POSTs to the receiver while sampling this process's RSS; the receiver runs in this process. */
async function postMeasured(url: string, encoding: string, body: Buffer) {
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 2);
  const started = performance.now();
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', 'content-encoding': encoding }, body: new Uint8Array(body) });
    const json = (await res.json()) as { code: number; message: string };
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    return { status: res.status, json, ms: performance.now() - started, rssGrowth: rssPeak - rssBefore };
  } finally {
    clearInterval(sampler);
  }
}

describe('the OTLP/HTTP size limit, after decompression', () => {
  const receiver = new OtlpReceiver({ grpcPort: 0, httpPort: 0, healthPort: 0, maxBodyBytes: LIMIT });
  let gzipBomb: Buffer;
  let deflateBomb: Buffer;
  before(async () => {
    await receiver.start();
    gzipBomb = await bomb(createGzip(), BOMB_BYTES);
    deflateBomb = await bomb(createDeflate(), BOMB_BYTES);
  });
  after(() => receiver.stop());

  for (const [encoding, body] of [['gzip', () => gzipBomb], ['deflate', () => deflateBomb]] as const) {
    test(`answers 413 to a ${encoding} body of ${BOMB_BYTES / MiB} MiB of zeros without inflating it`, async () => {
      assert.ok(body().length < LIMIT, `the compressed bomb (${body().length} bytes) is under the limit`);
      const { status, json, ms, rssGrowth } = await postMeasured(`${receiver.httpUrl}/v1/traces`, encoding, body());
      console.log(`FIGURE ${encoding} bomb: ${body().length} -> ${BOMB_BYTES} bytes: ${status} in ${ms.toFixed(0)} ms, RSS +${(rssGrowth / MiB).toFixed(1)} MiB`);
      assert.equal(status, 413);
      assert.deepEqual(json, { code: 3, message: `body larger than ${LIMIT} bytes` });
      assert.ok(rssGrowth < BOMB_BYTES / 4, `RSS grew by ${rssGrowth} bytes`);
    });
  }

  test('answers 400 to a truncated gzip body and to garbage labelled gzip, and keeps counting them as rejected', async () => {
    const rejected = receiver.counts.rejected;
    const full = gzipSync(encodedTrace('truncated'));
    for (const body of [full.subarray(0, full.length - 10), randomBytes(4096)]) {
      const res = await fetch(`${receiver.httpUrl}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' }, body: new Uint8Array(body) });
      assert.equal(res.status, 400);
      const json = (await res.json()) as { code: number; message: string };
      assert.equal(json.code, 3);
      assert.match(json.message, /^cannot decompress gzip body: /);
    }
    assert.equal(receiver.counts.rejected, rejected + 2);
  });

  test('answers 413 to a compressed body that is itself over the limit', async () => {
    const res = await fetch(`${receiver.httpUrl}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' }, body: new Uint8Array(randomBytes(4 * LIMIT)) });
    assert.equal(res.status, 413);
  });

  test('still accepts and decodes a normal gzip export after the bombs', async () => {
    const res = await fetch(`${receiver.httpUrl}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' }, body: new Uint8Array(gzipSync(encodedTrace('after-the-bombs'))) });
    assert.equal(res.status, 200);
    assert.ok(receiver.spans.some((s) => s.name === 'after-the-bombs'));
  });
});

describe('the OTLP/gRPC size limit, after decompression', () => {
  const receiver = new OtlpReceiver({ grpcPort: 0, httpPort: 0, healthPort: 0 });
  let client: grpc.Client;
  before(async () => {
    await receiver.start();
    client = new grpc.Client(receiver.grpcUrl.replace('http://', ''), grpc.credentials.createInsecure(), { 'grpc.default_compression_algorithm': grpc.compressionAlgorithms.gzip });
  });
  after(async () => {
    client.close();
    await receiver.stop();
  });

  const exportTraces = (message: Buffer) =>
    new Promise<{ code: grpc.status; details: string }>((resolve) =>
      client.makeUnaryRequest(`/${SIGNALS.traces.service}/Export`, (x: Buffer) => x, (x: Buffer) => x, message, (err) =>
        resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: '' }),
      ),
    );

  test('answers RESOURCE_EXHAUSTED to a gzip message that inflates past the default limit, then serves the next export', async () => {
    const started = performance.now();
    const refused = await exportTraces(Buffer.alloc(DEFAULT_MAX_BODY_BYTES + 4 * MiB));
    console.log(`FIGURE gRPC gzip bomb: ${refused.code} in ${(performance.now() - started).toFixed(0)} ms: ${refused.details}`);
    assert.equal(refused.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.equal(await exportTraces(encodedTrace('after-the-grpc-bomb')).then((r) => r.code), grpc.status.OK);
    assert.ok(receiver.spans.some((s) => s.name === 'after-the-grpc-bomb'));
  });
});
