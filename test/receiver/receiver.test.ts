// The OTLP receiver on its own: real gRPC and HTTP clients, the official protobuf encoding, the debug layout.
import assert from 'node:assert/strict';
import { connect } from 'node:http2';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { goTime, formatExport } from '../../src/receiver/debug-format.ts';
import { countAtPath, COUNT_PATH, decodeProtobuf, SIGNALS, spansOf } from '../../src/receiver/otlp-model.ts';
import { GRPC_WINDOW_BYTES, OtlpReceiver } from '../../src/receiver/receiver.ts';

const TraceRequest = SIGNALS.traces.request;

const TRACE = '5b8aa5a2d2c872e8321cf37308d69df2';
function traceRequest(spanCount: number) {
  return TraceRequest.fromObject({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] },
        scopeSpans: [
          {
            scope: { name: 'scope', version: '1' },
            spans: Array.from({ length: spanCount }, (_, i) => ({
              traceId: Buffer.from(TRACE, 'hex'),
              spanId: Buffer.from(`051581bf3cb55c${String(i).padStart(2, '0')}`, 'hex'),
              name: `span-${i}`,
              kind: 2,
              startTimeUnixNano: '1700000000100000000',
              endTimeUnixNano: '1700000000200000000',
              attributes: [
                { key: 'http.request.method', value: { stringValue: 'POST' } },
                { key: 'http.response.status_code', value: { intValue: 200 } },
              ],
            })),
          },
        ],
      },
    ],
  });
}
const encoded = (n: number): Buffer => Buffer.from(TraceRequest.encode(traceRequest(n)).finish());

describe('the receiver over real OTLP/HTTP', () => {
  const receiver = new OtlpReceiver({ grpcPort: 0, httpPort: 0, healthPort: 0 });
  before(() => receiver.start());
  after(() => receiver.stop());

  test('accepts protobuf, gzip-compressed protobuf and JSON, answering as the Collector does', async () => {
    const proto = await fetch(`${receiver.httpUrl}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: new Uint8Array(encoded(2)) });
    assert.equal(proto.status, 200);
    assert.equal(proto.headers.get('content-type'), 'application/x-protobuf');
    const gz = await fetch(`${receiver.httpUrl}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' }, body: new Uint8Array(gzipSync(encoded(1))) });
    assert.equal(gz.status, 200);
    const json = await fetch(`${receiver.httpUrl}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: 'aa'.repeat(16), spanId: 'bb'.repeat(8), name: 'json-span', kind: 1, startTimeUnixNano: '1', endTimeUnixNano: '2' }] }] }] }),
    });
    assert.equal(json.status, 200);
    assert.deepEqual(await json.json(), {});
    assert.equal(receiver.counts.spans, 4);
    assert.ok(receiver.traceIds().has(TRACE));
    assert.ok(receiver.spans.some((s) => s.traceId === 'aa'.repeat(16) && s.name === 'json-span'));
  });

  test('refuses what the Collector refuses: unknown paths, wrong content types, garbage bodies', async () => {
    assert.equal((await fetch(`${receiver.httpUrl}/v1/nope`, { method: 'POST' })).status, 404);
    assert.equal((await fetch(`${receiver.httpUrl}/v1/traces`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' })).status, 415);
    assert.equal((await fetch(`${receiver.httpUrl}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}' })).status, 400);
    assert.equal((await fetch(`${receiver.httpUrl}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: new Uint8Array([0xff, 0xff, 0xff]) })).status, 400);
  });

  test('answers the trace lookup used by the load generator audit', async () => {
    const res = await fetch(`${receiver.httpUrl}/debug/traces/lookup`, { method: 'POST', body: JSON.stringify({ trace_ids: [TRACE, 'cc'.repeat(16)] }) });
    assert.deepEqual(await res.json(), { received: [TRACE], missing: ['cc'.repeat(16)] });
    assert.equal((await fetch(`${receiver.httpUrl}/debug/traces/lookup`, { method: 'POST', body: '{"ids":1}' })).status, 400);
  });
});

describe('the debug exporter layout', () => {
  test('prints spans as the Collector debug exporter does in detailed verbosity', () => {
    const text = formatExport('traces', decodeProtobuf('traces', encoded(1)), 'detailed', new Date('2024-01-15T10:35:12.345Z'));
    const lines = text.split('\n');
    assert.equal(lines[0], '2024-01-15T10:35:12.345Z\tinfo\tTraces\t{"otelcol.component.id": "debug", "otelcol.component.kind": "exporter", "otelcol.signal": "traces", "resource spans": 1, "spans": 1}');
    assert.equal(lines[1], '2024-01-15T10:35:12.345Z\tinfo\tResourceSpans #0');
    for (const expected of [
      'Resource attributes:',
      '     -> service.name: Str(svc)',
      'InstrumentationScope scope 1',
      'Span #0',
      `    Trace ID       : ${TRACE}`,
      '    Parent ID      : ',
      '    ID             : 051581bf3cb55c00',
      '    Name           : span-0',
      '    Kind           : Server',
      '    Start time     : 2023-11-14 22:13:20.1 +0000 UTC',
      '    End time       : 2023-11-14 22:13:20.2 +0000 UTC',
      '    Status code    : Unset',
      '     -> http.request.method: Str(POST)',
      '     -> http.response.status_code: Int(200)',
    ]) {
      assert.ok(lines.includes(expected), `line ${JSON.stringify(expected)} in\n${text}`);
    }
  });

  test('formats timestamps like Go time.Time.String()', () => {
    assert.equal(goTime(1705314912100000000n), '2024-01-15 10:35:12.1 +0000 UTC');
    assert.equal(goTime(1705314912000000000n), '2024-01-15 10:35:12 +0000 UTC');
    assert.equal(goTime(1705314912123456789n), '2024-01-15 10:35:12.123456789 +0000 UTC');
  });
});

describe('counting mode', () => {
  test('counts spans on the wire exactly as a full decode does', () => {
    for (const n of [0, 1, 7, 300]) {
      const buf = encoded(n);
      assert.equal(countAtPath(buf, COUNT_PATH.traces), spansOf(decodeProtobuf('traces', buf)).length);
      assert.equal(countAtPath(buf, COUNT_PATH.traces), n);
    }
    assert.throws(() => countAtPath(encoded(3).slice(0, 20), COUNT_PATH.traces));
  });

  test('a counting receiver counts what arrives over gRPC without keeping it', async () => {
    const receiver = new OtlpReceiver({ grpcPort: 0, httpPort: 0, healthPort: 0, print: false, store: false });
    await receiver.start();
    try {
      const grpc = await import('@grpc/grpc-js');
      const Client = grpc.makeGenericClientConstructor({}, 'TraceService');
      const client = new Client(receiver.grpcUrl.replace('http://', ''), grpc.credentials.createInsecure());
      await new Promise<void>((resolve, reject) =>
        client.makeUnaryRequest(
          '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
          (x: Uint8Array) => Buffer.from(x),
          (b: Buffer) => b,
          encoded(5),
          (err: Error | null) => (err ? reject(err) : resolve()),
        ),
      );
      client.close();
      assert.equal(receiver.counts.spans, 5);
      assert.equal(receiver.spans.length, 0);
    } finally {
      await receiver.stop();
    }
  });
});

describe('gRPC flow control', () => {
  test('offers exporters 16 MiB HTTP/2 windows (stream and connection), as the Collector\'s grpc-go grows to, not Node\'s 64 KiB', async () => {
    const receiver = new OtlpReceiver({ grpcPort: 0, httpPort: 0, healthPort: 0 });
    await receiver.start();
    const session = connect(receiver.grpcUrl);
    try {
      await new Promise<void>((resolve, reject) => {
        session.once('remoteSettings', () => resolve());
        session.once('error', reject);
      });
      const deadline = Date.now() + 5000;
      // The stream window comes in the receiver's SETTINGS, the connection window in a WINDOW_UPDATE after it.
      while (session.remoteSettings.initialWindowSize !== GRPC_WINDOW_BYTES || (session.state.remoteWindowSize ?? 0) < GRPC_WINDOW_BYTES) {
        if (Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(session.remoteSettings.initialWindowSize, GRPC_WINDOW_BYTES);
      assert.ok((session.state.remoteWindowSize ?? 0) >= GRPC_WINDOW_BYTES, `connection window ${session.state.remoteWindowSize}`);
    } finally {
      session.close();
      await receiver.stop();
    }
  });
});
