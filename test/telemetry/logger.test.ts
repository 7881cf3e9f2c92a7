// The logger's OTLP side: each line becomes a log record through the Logs API, in the trace context of its span
// (the active one, or the one bound into a request's logger), and reaches a real receiver through the eager
// processor with that context.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { context, logs, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, type ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { Logger } from 'pino';
import { EagerLogRecordProcessor, grpcTransport } from '../../src/telemetry/eager-export.ts';
import { createLogger, requestLogger } from '../../src/telemetry/logger.ts';
import { OtlpReceiver } from '../../src/receiver/receiver.ts';
import { eagerOptions } from '../helpers/eager.ts';
import { SCOPE } from '../../src/telemetry/catalogue.ts';

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

test('a line becomes a log record in the context of the active span, only when that context is valid', () => {
  viaSdk.length = 0;
  const started = Date.now();
  logLines(createLogger({ level: 'info', exportLogs: true, destination: silent }));
  const finished = Date.now();
  assert.equal(viaSdk.length, 8);
  for (const r of viaSdk) {
    const ms = r.hrTime[0] * 1000 + r.hrTime[1] / 1e6;
    assert.ok(ms >= started && ms <= finished, 'the time the line was logged');
  }
  assert.equal(viaSdk[0]!.spanContext, undefined);
  assert.equal(viaSdk[1]!.spanContext?.spanId, 'b7ad6b7169203331');
  assert.equal(viaSdk[2]!.body, 'Prediction completed - latency: 13ms');
  assert.deepEqual(viaSdk[2]!.attributes, { latency_ms: 12.5, batch_size: 3, cached: false });
  assert.equal(viaSdk[6]!.spanContext?.traceFlags, TraceFlags.NONE);
  assert.equal(viaSdk[7]!.spanContext, undefined);
});

test('log records reach a real receiver over gRPC through the eager processor, correlated, until shutdown', async () => {
  const receiver = new OtlpReceiver({ grpcPort: 0, httpPort: 0, healthPort: 0 });
  await receiver.start();
  const processor = new EagerLogRecordProcessor(grpcTransport('logs', receiver.grpcUrl), eagerOptions());
  const eagerProvider = new LoggerProvider({ resource, processors: [processor] });
  try {
    const log = createLogger({ level: 'info', exportLogs: true, destination: silent, provider: eagerProvider });
    logLines(log);
    await processor.forceFlush();
    await receiver.waitFor(() => receiver.logs.length >= 8, 10_000, 'log records');
    const completed = receiver.logs.find((l) => l.body === 'Prediction completed - latency: 13ms');
    assert.equal(completed?.traceId, '0af7651916cd43dd8448eb211c80319c');
    assert.equal(completed?.attributes.latency_ms, 12.5);
    assert.equal(completed?.severityText, 'INFO');
    assert.equal(completed?.resource['service.name'], 'svc');
    assert.deepEqual(completed?.scope, { name: SCOPE.name, version: SCOPE.version });
    assert.equal(processor.status().exported, 8);
    await eagerProvider.shutdown();
    log.info('after shutdown');
    assert.deepEqual({ ended: processor.status().ended, exported: processor.status().exported }, { ended: 8, exported: 8 });
  } finally {
    await receiver.stop();
  }
});

test('a request logger binds the request id and the span ids once: the lines and records the mixin gives inside the span, outside it too, and the ids once per line', () => {
  const raw: string[] = [];
  const capture = new Writable({ write: (c, _e, cb) => void (raw.push(String(c)), cb()) });
  const sc = trace.getSpanContext(inSpan)!;
  viaSdk.length = 0;
  const root = createLogger({ level: 'info', exportLogs: true, destination: capture });
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
  assert.deepEqual(viaSdk.map((r) => r.spanContext?.spanId), [sc.spanId, sc.spanId, sc.spanId, sc.spanId]);

  // Without a valid span context (the SDK disabled): the request id only, and the mixin as for any line.
  raw.length = 0;
  const plain = requestLogger(root, 'req-3', undefined);
  plain.info('no span');
  context.with(inSpan, () => plain.info('in a span'));
  const [first, second] = raw.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual([first!.reqId, first!.trace_id, second!.trace_id], ['req-3', undefined, sc.traceId]);
  assert.equal(requestLogger(root, 'req-4', { traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 1 }).bindings().trace_id, undefined, 'an invalid span context is not bound');
});
