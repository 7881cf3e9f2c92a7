// The eager export pipeline: our one-at-a-time OTLP encoding against the SDK's own serializer (both decoded with
// the official protobuf definitions), then batches sent to the project's receiver over real gRPC and HTTP,
// including a Collector that is down and comes back, and one that stays down.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { context, SeverityNumber, SpanKind, SpanStatusCode, trace, TraceFlags, type Span as ApiSpan } from '@opentelemetry/api';
import { ProtobufLogsSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, type LogRecordProcessor, type ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { TracerProvider, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { TraceState } from '@opentelemetry/core';
import { EagerSpanProcessor, EagerLogRecordProcessor, grpcTransport, httpTransport } from '../../src/telemetry/eager-export.ts';
import { assembleRequest, encodeResource, encodeScope, ProtoWriter, writeLogRecord, writeSpan } from '../../src/telemetry/otlp-encode.ts';
import { OtlpReceiver } from '../../src/receiver/receiver.ts';
import { eagerOptions } from '../helpers/eager.ts';
import { freePort } from '../helpers/service.ts';
import { SIGNALS } from '../../src/receiver/otlp-model.ts';

const TraceRequest = SIGNALS.traces.request;
const LogsRequest = SIGNALS.logs.request;
const TraceResponse = SIGNALS.traces.response;
const asObject = (type: typeof TraceRequest, bytes: Uint8Array) =>
  type.toObject(type.decode(bytes), { defaults: true, longs: String, bytes: String, enums: Number });

const resource = resourceFromAttributes({ 'service.name': 'svc', 'service.version': '1.2.3', 'host.cpu.count': 2, 'a.flag': true });
const LONG = 'x'.repeat(300);
const BIG = 'é'.repeat(20_000); // 40,000 UTF-8 bytes: three-byte lengths and writer growth

function sdkSpans(): ReadableSpan[] {
  const ended: ReadableSpan[] = [];
  const capture: SpanProcessor = {
    onStart() {},
    onEnd: (s) => void ended.push(s),
    forceFlush: async () => {},
    shutdown: async () => {},
  };
  const provider = new TracerProvider({ resource, spanProcessors: [capture] });
  const tracer = provider.getTracer('scope-a', '0.1.0');
  const other = provider.getTracer('scope-b');
  const remote = trace.setSpanContext(context.active(), {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
    traceState: new TraceState('vendor=value,other=1'),
  });
  const server: ApiSpan = tracer.startSpan('POST /predict', {
    kind: SpanKind.SERVER,
    attributes: { 'http.request.method': 'POST', 'http.response.status_code': 200, ratio: 0.25, negative: -42, big: 2 ** 40, ok: true, list: ['a', 'b'], nums: [1, 2.5], long: LONG, 'ü-key': 'naïve ✓', huge: BIG },
  }, remote);
  server.addEvent('exception', { 'exception.type': 'Error', 'exception.message': 'boom' });
  server.addLink({ context: { traceId: '1'.repeat(32), spanId: '2'.repeat(16), traceFlags: 0, isRemote: false }, attributes: { why: 'batch' } });
  server.setStatus({ code: SpanStatusCode.ERROR, message: 'model failed' });
  const child = tracer.startSpan('inference', {}, trace.setSpan(context.active(), server));
  child.end();
  server.end();
  other.startSpan('root', { kind: SpanKind.CLIENT }).end();
  return ended;
}

function sdkLogRecords(): ReadableLogRecord[] {
  const emitted: ReadableLogRecord[] = [];
  const capture: LogRecordProcessor = { onEmit: (r) => void emitted.push(r as unknown as ReadableLogRecord), forceFlush: async () => {}, shutdown: async () => {} };
  const provider = new LoggerProvider({ resource, processors: [capture] });
  const logger = provider.getLogger('log-scope', '2.0.0');
  const ctx = trace.setSpanContext(context.active(), { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED });
  logger.emit({ severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: 'Prediction completed', attributes: { 'request.id': 'abc', latency_ms: 12.5, count: 3 }, context: ctx });
  logger.emit({ severityNumber: SeverityNumber.ERROR, body: { msg: 'nested', list: [1, 'two'], deep: { ok: false } }, eventName: 'model.error' });
  logger.emit({ body: LONG });
  return emitted;
}

function ourTraceRequest(spans: ReadableSpan[]): Buffer {
  const byScope = new Map<object, ReadableSpan[]>();
  for (const s of spans) byScope.set(s.instrumentationScope, [...(byScope.get(s.instrumentationScope) ?? []), s]);
  return assembleRequest([
    {
      resource: encodeResource(resource.attributes),
      scopes: [...byScope.values()].map((group) => {
        const w = new ProtoWriter(64); // small on purpose: growth is exercised
        for (const s of group) writeSpan(w, s);
        return { scope: encodeScope(group[0]!.instrumentationScope), items: w.bytes() };
      }),
    },
  ]);
}

describe('OTLP encoding, one item at a time', () => {
  test('spans decode exactly as the SDK serializer encodes them (attributes of every type, events, links, status, remote parent, trace state, UTF-8, long values)', () => {
    const spans = sdkSpans();
    const ours = asObject(TraceRequest, ourTraceRequest(spans));
    const sdk = asObject(TraceRequest, ProtobufTraceSerializer.serializeRequest(spans)!);
    assert.equal(ours.resourceSpans[0].scopeSpans.length, 2);
    assert.deepEqual(ours, sdk);
  });

  test('log records decode exactly as the SDK serializer encodes them (string and structured bodies, trace context, event name)', () => {
    const records = sdkLogRecords();
    const w = new ProtoWriter(32);
    for (const r of records) writeLogRecord(w, r);
    const oursBytes = assembleRequest([{ resource: encodeResource(resource.attributes), scopes: [{ scope: encodeScope(records[0]!.instrumentationScope), items: w.bytes() }] }]);
    const sdkBytes = ProtobufLogsSerializer.serializeRequest(records)!;
    assert.deepEqual(asObject(LogsRequest, oursBytes), asObject(LogsRequest, sdkBytes));
    // event_name (field 12) is newer than the bundled .proto files, so the decoder skips it: look for its bytes.
    const eventName = Buffer.from([(12 << 3) | 2, 'model.error'.length, ...Buffer.from('model.error')]);
    assert.ok(Buffer.from(sdkBytes).includes(eventName) && oursBytes.includes(eventName));
  });

  test('timestamps keep every nanosecond (no float rounding past 2^53)', () => {
    const w = new ProtoWriter(16);
    w.hrTime([1_764_000_000, 123_456_789]);
    assert.equal(w.bytes().readBigUInt64LE(0), 1_764_000_000_123_456_789n);
    const v = new ProtoWriter(16);
    v.hrTime([4_294_967_295, 999_999_999]);
    assert.equal(v.bytes().readBigUInt64LE(0), 4_294_967_295_999_999_999n);
  });
});

const options = eagerOptions;

/** Ends `n` sampled spans through a tracer whose only processor is `processor`. */
function endSpans(processor: SpanProcessor, n: number, prefix = 'span'): void {
  const tracer = new TracerProvider({ resource, spanProcessors: [processor] }).getTracer('eager-test');
  for (let i = 0; i < n; i++) tracer.startSpan(`${prefix}-${i}`, { attributes: { i } }).end();
}

describe('the eager pipeline against the receiver', () => {
  const receiver = new OtlpReceiver({ grpcPort: 0, httpPort: 0, healthPort: 0 });
  before(() => receiver.start());
  after(() => receiver.stop());

  for (const protocol of ['grpc', 'http/protobuf'] as const) {
    test(`${protocol}: every span and log record arrives, decoded intact, and the counts say so`, async () => {
      const spansBefore = receiver.counts.spans;
      const logsBefore = receiver.counts.logRecords;
      const spans = new EagerSpanProcessor(protocol === 'grpc' ? grpcTransport('traces', receiver.grpcUrl) : httpTransport('traces', `${receiver.httpUrl}/v1/traces`), options());
      endSpans(spans, 450, protocol);
      const logs = new EagerLogRecordProcessor(protocol === 'grpc' ? grpcTransport('logs', receiver.grpcUrl) : httpTransport('logs', `${receiver.httpUrl}/v1/logs`), options());
      const logger = new LoggerProvider({ resource, processors: [logs] }).getLogger('eager-test');
      for (let i = 0; i < 120; i++) logger.emit({ severityNumber: SeverityNumber.INFO, body: `line ${i}` });
      await spans.shutdown();
      await logs.shutdown();
      assert.deepEqual(spans.status(), { ended: 450, exported: 450, failed: 0, inFlight: 0, queued: 0, dropped: 0 });
      assert.deepEqual(logs.status(), { ended: 120, exported: 120, failed: 0, inFlight: 0, queued: 0, dropped: 0 });
      assert.equal(receiver.counts.spans - spansBefore, 450);
      assert.equal(receiver.counts.logRecords - logsBefore, 120);
      const last = receiver.spans.find((s) => s.name === `${protocol}-449`);
      assert.ok(last, 'the last span was decoded by the receiver');
      assert.equal(last.scope.name, 'eager-test');
      assert.equal(last.resource['service.name'], 'svc');
      assert.equal(last.attributes.i, 449);
    });
  }

  test('a full queue drops new items and counts each one', async () => {
    const spans = new EagerSpanProcessor(grpcTransport('traces', receiver.grpcUrl), options({ batch: { scheduleDelayMs: 10_000, exportTimeoutMs: 5000, maxQueueSize: 50, maxExportBatchSize: 1000 } }));
    endSpans(spans, 80);
    assert.deepEqual(spans.status(), { ended: 80, exported: 0, failed: 0, inFlight: 0, queued: 50, dropped: 30 });
    await spans.shutdown();
    assert.deepEqual(spans.status(), { ended: 80, exported: 50, failed: 0, inFlight: 0, queued: 0, dropped: 30 });
  });
});

describe('a Collector that is down', () => {
  test('batches are retried while it is down and delivered once it is back', async () => {
    const port = await freePort();
    const spans = new EagerSpanProcessor(grpcTransport('traces', `http://127.0.0.1:${port}`), options());
    endSpans(spans, 300);
    await new Promise((r) => setTimeout(r, 1500)); // the first attempts fail: nothing listens
    const during = spans.status();
    assert.equal(during.exported, 0);
    assert.equal(during.failed, 0);
    assert.equal(during.inFlight + during.queued, 300, JSON.stringify(during));
    const receiver = new OtlpReceiver({ grpcPort: port, httpPort: 0, healthPort: 0 });
    await receiver.start();
    try {
      await spans.forceFlush();
      assert.deepEqual(spans.status(), { ended: 300, exported: 300, failed: 0, inFlight: 0, queued: 0, dropped: 0 });
      assert.equal(receiver.counts.spans, 300);
    } finally {
      await spans.shutdown();
      await receiver.stop();
    }
  });

  test('past EXPORT_RETRY_MS a batch is counted as failed, and shutdown does not wait for retries', async () => {
    const port = await freePort();
    const warnings: string[] = [];
    const spans = new EagerSpanProcessor(grpcTransport('traces', `http://127.0.0.1:${port}`), options({ retryMs: 500, warn: (m) => warnings.push(m) }));
    endSpans(spans, 150);
    await spans.forceFlush();
    assert.deepEqual(spans.status(), { ended: 150, exported: 0, failed: 150, inFlight: 0, queued: 0, dropped: 0 });
    assert.equal(warnings.length, 1, 'one warning, not one per batch');
    endSpans(spans, 10);
    const t0 = Date.now();
    await spans.shutdown();
    assert.ok(Date.now() - t0 < 3000, 'shutdown makes one last attempt, no backoff');
    assert.equal(spans.status().failed, 160);
  });
});

describe('answers and items out of the ordinary', () => {
  test('a partial success (the Collector rejects some spans) counts those as failed, the rest as exported', async () => {
    const answer = Buffer.from(TraceResponse.encode({ partialSuccess: { rejectedSpans: 7, errorMessage: 'too old' } }).finish());
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(answer));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const warnings: unknown[] = [];
    try {
      const spans = new EagerSpanProcessor(httpTransport('traces', `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`), options({ warn: (_m, e) => warnings.push(e) }));
      endSpans(spans, 40);
      await spans.shutdown();
      assert.deepEqual(spans.status(), { ended: 40, exported: 33, failed: 7, inFlight: 0, queued: 0, dropped: 0 });
      assert.match(String(warnings[0]), /rejected 7 spans: too old/);
    } finally {
      server.close();
    }
  });

  test('a partial success larger than the batch counts the batch as failed, never exported below zero', async () => {
    const answer = Buffer.from(TraceResponse.encode({ partialSuccess: { rejectedSpans: 25 } }).finish());
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(answer));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const spans = new EagerSpanProcessor(httpTransport('traces', `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`), options());
      endSpans(spans, 10);
      await spans.shutdown();
      assert.deepEqual(spans.status(), { ended: 10, exported: 0, failed: 10, inFlight: 0, queued: 0, dropped: 0 });
    } finally {
      server.close();
    }
  });

  test('shutdown keeps to its deadline when the Collector never answers: sends are cancelled, everything is counted', async () => {
    const server = createServer((req) => req.resume()); // reads every request, answers none
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const spans = new EagerSpanProcessor(
        httpTransport('traces', `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`),
        options({ batch: { scheduleDelayMs: 50, exportTimeoutMs: 5000, maxQueueSize: 1000, maxExportBatchSize: 10 }, timeoutMs: 10_000, shutdownMs: 400 }),
      );
      endSpans(spans, 100); // 10 batches, 2 in flight, 8 waiting
      const t0 = Date.now();
      await spans.shutdown();
      const took = Date.now() - t0;
      assert.ok(took < 2000, `shutdown took ${took} ms`);
      assert.deepEqual(spans.status(), { ended: 100, exported: 0, failed: 100, inFlight: 0, queued: 0, dropped: 0 });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  test('forceFlush returns once what was queued at its call is sent, while new spans keep arriving', async () => {
    // A Collector that takes 30 ms per export and more spans than it can take: the queue never empties.
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => setTimeout(() => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(), 30));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const spans = new EagerSpanProcessor(
      httpTransport('traces', `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`),
      options({ batch: { scheduleDelayMs: 20, exportTimeoutMs: 5000, maxQueueSize: 100_000, maxExportBatchSize: 10 } }),
    );
    const tracer = new TracerProvider({ resource, spanProcessors: [spans] }).getTracer('flush-test');
    const traffic = setInterval(() => {
      for (let i = 0; i < 3; i++) tracer.startSpan('steady').end();
    }, 2);
    try {
      endSpans(spans, 25);
      const outcome = await Promise.race([spans.forceFlush().then(() => 'flushed'), new Promise((r) => setTimeout(() => r('still waiting after 3 s'), 3000))]);
      assert.equal(outcome, 'flushed');
      assert.ok(spans.status().exported >= 25);
    } finally {
      clearInterval(traffic);
      await spans.shutdown();
      server.close();
    }
    const st = spans.status();
    assert.equal(st.ended, st.exported + st.failed + st.dropped + st.queued + st.inFlight);
  });

  test('an item that cannot be encoded is dropped and counted; the rest of its batch still decodes', async () => {
    const receiver = new OtlpReceiver({ grpcPort: 0, httpPort: 0, healthPort: 0 });
    await receiver.start();
    try {
      const spans = new EagerSpanProcessor(grpcTransport('traces', receiver.grpcUrl), options());
      endSpans(spans, 3, 'before');
      const [good] = sdkSpans();
      const broken = Object.create(good!, { spanContext: { value: () => ({ traceId: undefined, spanId: '1'.repeat(16), traceFlags: 1 }) } }) as ReadableSpan;
      spans.onEnd(broken);
      endSpans(spans, 3, 'after');
      await spans.shutdown();
      assert.deepEqual(spans.status(), { ended: 7, exported: 6, failed: 0, inFlight: 0, queued: 0, dropped: 1 });
      assert.deepEqual(receiver.spans.map((s) => s.name).sort(), ['after-0', 'after-1', 'after-2', 'before-0', 'before-1', 'before-2']);
    } finally {
      await receiver.stop();
    }
  });
});
