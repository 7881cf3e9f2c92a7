// The logger's two ways of exporting a line as an OTLP log record: through the SDK's Logger (Logs API), and,
// with EXPORT_PIPELINE=eager, straight to the eager exporter (`direct`). The same lines, logged both ways inside
// and outside a span, must serialise to the same OTLP request (decoded with the official .proto definitions),
// timestamps aside; and the direct path must deliver to a real receiver with the right trace context.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { context, logs, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, type ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { Logger } from 'pino';
import { EagerLogRecordProcessor, grpcTransport } from '../../src/telemetry/eager-export.ts';
import { createLogger, requestLogger } from '../../src/telemetry/logger.ts';
import { OtlpReceiver } from '../../src/receiver/receiver.ts';
import { eagerOptions } from '../helpers/eager.ts';
import { SCOPE_NAME, SCOPE_VERSION } from '../../src/telemetry/scope.ts';
import { SIGNALS } from '../../src/receiver/otlp-model.ts';

const LogsRequest = SIGNALS.logs.request;
const decode = (bytes: Uint8Array) => LogsRequest.toObject(LogsRequest.decode(bytes), { defaults: true, longs: String, bytes: String, enums: Number });

const resource = resourceFromAttributes({ 'service.name': 'svc', 'service.version': '1.2.3' });
const silent = new Writable({ write: (_c, _e, cb) => cb() });
const contextManager = new AsyncLocalStorageContextManager().enable();
const viaSdk: ReadableLogRecord[] = [];
const provider = new LoggerProvider({
  resource,
  processors: [{ onEmit: (r) => void viaSdk.push(r as unknown as ReadableLogRecord), forceFlush: async () => {}, shutdown: async () => {} }],
});

before(() => {
  context.setGlobalContextManager(contextManager);
  logs.setGlobalLoggerProvider(provider);
});
after(() => {
  logs.disable();
  context.disable();
});

const inSpan = trace.setSpanContext(context.active(), { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED });
const unsampled = trace.setSpanContext(context.active(), { traceId: '1'.repeat(32), spanId: '2'.repeat(16), traceFlags: TraceFlags.NONE });
const invalid = trace.setSpanContext(context.active(), { traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: TraceFlags.SAMPLED });

/** The lines the service logs, in every shape the hook handles: message only, fields + message, an Error, levels. */
function logLines(log: Logger): void {
  log.info('outside any span');
  context.with(inSpan, () => {
    log.info('Prediction request received');
    log.info({ latency_ms: 12.5, batch_size: 3, cached: false }, 'Prediction completed - latency: 13ms');
    log.warn({ code: 'VALIDATION_ERROR', status: 422, detail: { loc: ['body', 'features'] } }, 'Request rejected');
    log.error({ err: new TypeError('bad shape'), code: 'INTERNAL' }, 'Request failed');
    log.error(new RangeError('out of range'));
    log.debug('below the level: not exported');
  });
  context.with(unsampled, () => log.info('in an unsampled trace'));
  context.with(invalid, () => log.info('with an invalid span context'));
}

const withoutTimes = (request: ReturnType<typeof decode>) => {
  for (const rl of request.resourceLogs) for (const sl of rl.scopeLogs) for (const r of sl.logRecords) ((r.timeUnixNano = 't'), (r.observedTimeUnixNano = 't'));
  return request;
};

test('a line exported directly serialises exactly as the same line through the SDK Logger (timestamps aside)', () => {
  const direct: ReadableLogRecord[] = [];
  const scope = { name: SCOPE_NAME, version: SCOPE_VERSION };
  const started = Date.now();
  logLines(createLogger({ level: 'info', exportLogs: true, destination: silent }));
  logLines(createLogger({ level: 'info', exportLogs: true, destination: silent, direct: { emit: (r) => void direct.push(r), resource, scope } }));
  const finished = Date.now();

  assert.equal(viaSdk.length, 8);
  assert.equal(direct.length, 8);
  assert.deepEqual(withoutTimes(decode(ProtobufLogsSerializer.serializeRequest(direct)!)), withoutTimes(decode(ProtobufLogsSerializer.serializeRequest(viaSdk)!)));
  for (const r of direct) {
    const ms = r.hrTime[0] * 1000 + r.hrTime[1] / 1e6;
    assert.ok(ms >= started && ms <= finished, 'the time the line was logged');
    assert.deepEqual(r.hrTimeObserved, r.hrTime);
  }
  // The trace context is that of the active span, and only when it is valid (as the SDK does).
  assert.equal(direct[0]!.spanContext, undefined);
  assert.equal(direct[1]!.spanContext?.spanId, 'b7ad6b7169203331');
  assert.equal(direct[6]!.spanContext?.traceFlags, TraceFlags.NONE);
  assert.equal(direct[7]!.spanContext, undefined);
});

test('the direct path delivers to a real receiver over gRPC, correlated, and stops at shutdown like the SDK Logger', async () => {
  const receiver = new OtlpReceiver({ grpcPort: 0, httpPort: 0, healthPort: 0 });
  await receiver.start();
  const processor = new EagerLogRecordProcessor(grpcTransport('logs', receiver.grpcUrl), eagerOptions());
  try {
    const log = createLogger({ level: 'info', exportLogs: true, destination: silent, direct: { emit: processor.emit, resource, scope: { name: SCOPE_NAME, version: SCOPE_VERSION } } });
    logLines(log);
    await processor.forceFlush();
    await receiver.waitFor(() => receiver.logs.length >= 8, 10_000, 'log records');
    const completed = receiver.logs.find((l) => l.body === 'Prediction completed - latency: 13ms');
    assert.equal(completed?.traceId, '0af7651916cd43dd8448eb211c80319c');
    assert.equal(completed?.attributes.latency_ms, 12.5);
    assert.equal(completed?.severityText, 'INFO');
    assert.equal(completed?.resource['service.name'], 'svc');
    assert.deepEqual(completed?.scope, { name: SCOPE_NAME, version: SCOPE_VERSION });
    assert.equal(processor.status().exported, 8);
    await processor.shutdown();
    log.info('after shutdown');
    assert.deepEqual({ ended: processor.status().ended, dropped: processor.status().dropped }, { ended: 8, dropped: 0 });
  } finally {
    await receiver.stop();
  }
});

test('a request logger binds the request id and the span ids once: the lines and records the mixin gives inside the span, outside it too, and the ids once per line', () => {
  const raw: string[] = [];
  const capture = new Writable({ write: (c, _e, cb) => void (raw.push(String(c)), cb()) });
  const sc = trace.getSpanContext(inSpan)!;
  const direct: ReadableLogRecord[] = [];
  const scope = { name: SCOPE_NAME, version: SCOPE_VERSION };
  const root = createLogger({ level: 'info', exportLogs: true, destination: capture, direct: { emit: (r) => void direct.push(r), resource, scope } });
  context.with(inSpan, () => root.child({ reqId: 'req-1' }).info({ latency_ms: 1 }, 'done')); // the mixin's way
  const bound = requestLogger(root, 'req-1', sc);
  context.with(inSpan, () => bound.info({ latency_ms: 1 }, 'done'));
  bound.info({ latency_ms: 1 }, 'done'); // outside any trace context: still the request's span
  context.with(unsampled, () => bound.info({ latency_ms: 1 }, 'done')); // inside another: still its own
  const lines = raw.map((l) => JSON.parse(l) as Record<string, unknown>);
  const noTime = (l: Record<string, unknown>) => ({ ...l, time: 'T' });
  for (const [i, l] of lines.entries()) {
    assert.deepEqual(noTime(l), noTime(lines[0]!), `line ${i}`);
    assert.equal(raw[i]!.split('"trace_id"').length, 2, `line ${i}: trace_id once`);
  }
  assert.deepEqual(Object.keys(lines[0]!), ['level', 'time', 'reqId', 'trace_id', 'span_id', 'latency_ms', 'msg']);
  assert.equal(lines[0]!.trace_id, sc.traceId);
  assert.deepEqual(direct.map((r) => r.spanContext?.spanId), [sc.spanId, sc.spanId, sc.spanId, sc.spanId]);

  // Through the SDK's Logger too.
  viaSdk.length = 0;
  const sdkBound = requestLogger(createLogger({ level: 'info', exportLogs: true, destination: silent }), 'req-2', sc);
  sdkBound.info('outside any trace context');
  context.with(unsampled, () => sdkBound.info('inside another'));
  assert.deepEqual(viaSdk.map((r) => r.spanContext?.spanId), [sc.spanId, sc.spanId]);

  // Without a valid span context (the SDK disabled): the request id only, and the mixin as for any line.
  raw.length = 0;
  const plain = requestLogger(root, 'req-3', undefined);
  plain.info('no span');
  context.with(inSpan, () => plain.info('in a span'));
  const [first, second] = raw.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual([first!.reqId, first!.trace_id, second!.trace_id], ['req-3', undefined, sc.traceId]);
  assert.equal(requestLogger(root, 'req-4', { traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 1 }).bindings().trace_id, undefined, 'an invalid span context is not bound');
});
