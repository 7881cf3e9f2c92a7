// The model pipeline's stage spans built without the SDK's Tracer (src/stage-spans.ts): the same spans as the SDK
// builds for the same calls, as the SDK's own serializer encodes them, decoded with the official protobuf
// definitions; nothing recorded under an unsampled parent; and, through the eager exporter to a real OTLP/HTTP
// endpoint, one ScopeSpans for the server span and its stages.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Context } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { TracerProvider, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { EagerSpanProcessor, httpTransport } from '../src/eager-export.ts';
import { directStageSpans, type StartStageSpan } from '../src/stage-spans.ts';
import { eagerOptions } from './helpers/eager.ts';

const require = createRequire(import.meta.url);
const root = require('otlp-proto/build/src/generated/root.js');
const TraceRequest = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
const decode = (bytes: Uint8Array) => TraceRequest.toObject(TraceRequest.decode(bytes), { defaults: true, longs: String, bytes: String, enums: Number });

const resource = resourceFromAttributes({ 'service.name': 'svc', 'service.version': '1.2.3' });
const SCOPE = { name: 'inference-service', version: '1.0.0' };

function capturingProvider(): { provider: TracerProvider; ended: ReadableSpan[] } {
  const ended: ReadableSpan[] = [];
  const capture: SpanProcessor = { onStart() {}, onEnd: (s) => void ended.push(s), forceFlush: async () => {}, shutdown: async () => {} };
  return { provider: new TracerProvider({ resource, spanProcessors: [capture] }), ended };
}

/** What the pipeline does with a stage span: a success, and a failure with the demo's error recipe. */
function runStages(start: StartStageSpan, parent: Context): void {
  const attrs = { 'model.name': 'linear-demo', 'model.batch_size': 2, 'model.feature_count': 3 };
  start('preprocess', attrs, parent).end();
  const failed = start('inference', { ...attrs, 'model.simulated_latency_ms': 12.345 }, parent);
  const err = Object.assign(new Error('the model broke'), { code: 'ERR_MODEL' });
  failed.recordException(err);
  failed.setStatus({ code: SpanStatusCode.ERROR });
  failed.end();
  failed.end(); // a second end is ignored, as by the SDK
  start('postprocess', attrs, parent).end();
}

/** The decoded request with what must differ between two runs (ids, clocks, stack traces) blanked out. */
function comparable(spans: ReadableSpan[]): unknown {
  const request = decode(ProtobufTraceSerializer.serializeRequest(spans)!);
  for (const rs of request.resourceSpans) {
    for (const ss of rs.scopeSpans) {
      for (const s of ss.spans) {
        s.spanId = 'ID';
        s.startTimeUnixNano = s.endTimeUnixNano = 'T';
        for (const e of s.events) {
          e.timeUnixNano = 'T';
          for (const kv of e.attributes) if (kv.key === 'exception.stacktrace') kv.value.stringValue = 'STACK';
        }
      }
    }
  }
  return request;
}

describe('stage spans built without the SDK\'s Tracer', () => {
  test('are the spans the SDK builds for the same calls: names, parent, trace, attributes, kind, status, exception event, flags, trace state', () => {
    const { provider, ended } = capturingProvider();
    const tracer = provider.getTracer(SCOPE.name, SCOPE.version);
    const remote = trace.setSpanContext(ROOT_CONTEXT, { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED, isRemote: true, traceState: new TraceState('vendor=value') });
    const server = tracer.startSpan('POST /predict', { kind: SpanKind.SERVER }, remote);
    const parent = trace.setSpan(remote, server);

    runStages((name, attributes, p) => tracer.startSpan(name, { attributes }, p), parent);
    const fromSdk = ended.splice(0);
    const direct: ReadableSpan[] = [];
    runStages(directStageSpans({ emit: (s) => void direct.push(s), resource, scope: { ...SCOPE } }), parent);

    assert.equal(direct.length, 3);
    assert.deepEqual(comparable(direct), comparable(fromSdk));
    const ids = new Set(direct.map((s) => s.spanContext().spanId));
    assert.equal(ids.size, 3, 'each span has its own id');
    for (const s of direct) {
      assert.match(s.spanContext().spanId, /^[0-9a-f]{16}$/);
      assert.equal(s.parentSpanContext?.spanId, server.spanContext().spanId);
      assert.ok(s.ended);
    }
    const [pre] = direct;
    const ns = (t: [number, number]) => BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);
    assert.ok(ns(pre!.endTime) >= ns(pre!.startTime));
    assert.ok(Math.abs(Number(ns(pre!.startTime) / 1_000_000n) - Date.now()) < 5_000, 'wall-clock start time');
    server.end();
  });

  test('under a parent that is not sampled, or with no span at all, nothing is recorded', () => {
    const { provider } = capturingProvider();
    const unsampled = trace.setSpanContext(ROOT_CONTEXT, { traceId: '1'.repeat(32), spanId: '2'.repeat(16), traceFlags: TraceFlags.NONE });
    const server = provider.getTracer('t').startSpan('GET /x', {}, unsampled);
    assert.equal(server.isRecording(), false, 'the SDK records nothing either');
    const direct: ReadableSpan[] = [];
    const start = directStageSpans({ emit: (s) => void direct.push(s), resource, scope: SCOPE });
    runStages(start, trace.setSpan(unsampled, server));
    runStages(start, context.active());
    assert.equal(direct.length, 0);
  });

  test('through the eager exporter, the server span and its stages arrive in one ScopeSpans, though their scope objects differ', async () => {
    const bodies: Buffer[] = [];
    const collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push(Buffer.concat(chunks));
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
    try {
      const processor = new EagerSpanProcessor(httpTransport('traces', `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`), eagerOptions());
      const tracer = new TracerProvider({ resource, spanProcessors: [processor] }).getTracer(SCOPE.name, SCOPE.version);
      const start = directStageSpans({ emit: processor.emit, resource, scope: { ...SCOPE } });
      for (let i = 0; i < 5; i++) {
        const server = tracer.startSpan('POST /predict', { kind: SpanKind.SERVER });
        runStages(start, trace.setSpan(ROOT_CONTEXT, server));
        server.end();
      }
      await processor.shutdown();
      assert.deepEqual(processor.status(), { ended: 20, exported: 20, failed: 0, inFlight: 0, queued: 0, dropped: 0 });
      const scopeSpans = bodies.flatMap((b) => decode(b).resourceSpans.flatMap((rs: { scopeSpans: unknown[] }) => rs.scopeSpans)) as { scope: { name: string }; spans: { name: string }[] }[];
      assert.equal(scopeSpans.length, bodies.length, 'one ScopeSpans per request');
      assert.deepEqual(scopeSpans.map((s) => s.scope.name), bodies.map(() => SCOPE.name));
      const names = scopeSpans.flatMap((s) => s.spans.map((x) => x.name));
      assert.equal(names.filter((n) => n === 'POST /predict').length, 5);
      assert.equal(names.filter((n) => n === 'inference').length, 5);
      const late = trace.setSpanContext(ROOT_CONTEXT, { traceId: '3'.repeat(32), spanId: '4'.repeat(16), traceFlags: TraceFlags.SAMPLED });
      runStages(start, late);
      assert.deepEqual(processor.status(), { ended: 23, exported: 20, failed: 0, inFlight: 0, queued: 0, dropped: 3 }, 'stage spans ended after shutdown are counted as dropped, as the SDK tracer\'s are');
    } finally {
      collector.close();
    }
  });
});
