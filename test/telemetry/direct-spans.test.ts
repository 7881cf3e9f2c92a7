// The server spans and the model pipeline's stage spans built without the SDK's Tracer (src/telemetry/direct-spans.ts): the
// same spans as the SDK builds for the same calls, as the SDK's own serializer encodes them, decoded with the
// official protobuf definitions; the same sampling decisions; nothing recorded under an unsampled parent; and,
// through the eager exporter to a real OTLP/HTTP endpoint, one ScopeSpans for the server span and its stages.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { context, ROOT_CONTEXT, SamplingDecision, SpanKind, SpanStatusCode, trace, TraceFlags, type Attributes, type Context, type Span } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, TraceIdRatioBasedSampler, TracerProvider, type ReadableSpan, type Sampler, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { EagerSpanProcessor, httpTransport } from '../../src/telemetry/eager-export.ts';
import { directBatchSpans, directServerSpans, directStageSpans, type StartServerSpan, type StartStageSpan } from '../../src/telemetry/direct-spans.ts';
import { eagerOptions } from '../helpers/eager.ts';
import { SIGNALS } from '../../src/receiver/otlp-model.ts';

const TraceRequest = SIGNALS.traces.request;
const decode = (bytes: Uint8Array) => TraceRequest.toObject(TraceRequest.decode(bytes), { defaults: true, longs: String, bytes: String, enums: Number });

const resource = resourceFromAttributes({ 'service.name': 'svc', 'service.version': '1.2.3' });
const SCOPE = { name: 'inference-service', version: '1.0.0' };

function capturingProvider(sampler?: Sampler): { provider: TracerProvider; ended: ReadableSpan[] } {
  const ended: ReadableSpan[] = [];
  // As the eager processor does (onEnd), only sampled spans are kept.
  const capture: SpanProcessor = { onStart() {}, onEnd: (s) => void (s.spanContext().traceFlags & 1 && ended.push(s)), forceFlush: async () => {}, shutdown: async () => {} };
  return { provider: new TracerProvider({ resource, sampler, spanProcessors: [capture] }), ended };
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

/** What a request does with its server span (http-telemetry.ts, app.ts), and what a library might do besides. */
function runServer(start: StartServerSpan, parent: Context): Span {
  const attributes: Attributes = { 'http.request.method': 'POST', 'url.path': '/predict', 'url.scheme': 'http', 'http.route': '/predict', 'user_agent.original': undefined };
  const span = start('POST /predict', attributes, parent);
  span.setAttribute('http.response.status_code', 500);
  span.setAttribute('http.response.status_code', 503); // overwritten, not added twice
  span.setAttributes({ 'error.type': '503', 'app.error.code': 'ERR_OVERLOADED', 'list.value': ['a', 'b'], 'bad.value': Symbol('x') as never, '': 'no key' });
  span.setAttribute('skipped', undefined as never);
  span.recordException(Object.assign(new Error('queue full'), { code: 'ERR_OVERLOADED' }));
  span.recordException('a string exception');
  span.recordException(new TypeError('no code: the type is the name'));
  span.addEvent('retry', { attempt: 2, nested: { no: 'objects in event attributes' } as never }, [1_700_000_000, 5]);
  span.addEvent('at a time', new Date(1_700_000_001_000));
  span.addLink({ context: { traceId: 'c'.repeat(32), spanId: 'd'.repeat(16), traceFlags: TraceFlags.SAMPLED }, attributes: { 'link.kind': 'batch' } });
  span.addLinks([{ context: { traceId: 'e'.repeat(32), spanId: 'd'.repeat(16), traceFlags: TraceFlags.NONE } }]);
  span.setStatus({ code: SpanStatusCode.ERROR, message: 'overloaded' });
  span.updateName('POST /predict (renamed)');
  span.end();
  span.end(); // a second end is ignored
  span.setAttribute('after.end', 1); // and so is anything after it
  return span;
}

/** The decoded request with what must differ between two runs (ids, clocks, stack traces) blanked out. */
function comparable(spans: ReadableSpan[], newTrace = false): unknown {
  const request = decode(ProtobufTraceSerializer.serializeRequest(spans)!);
  for (const rs of request.resourceSpans) {
    for (const ss of rs.scopeSpans) {
      for (const s of ss.spans) {
        s.spanId = 'ID';
        if (newTrace) s.traceId = 'TRACE';
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

describe('spans built without the SDK\'s Tracer', () => {
  test('stage spans are the spans the SDK builds for the same calls: names, parent, trace, attributes, kind, status, exception event, flags, trace state', () => {
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

  test('stage spans: under a parent that is not sampled, or with no span at all, nothing is recorded', () => {
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

  test('server spans are the spans the SDK builds for the same calls, with every Span method the app or a library may call', () => {
    const remote = trace.setSpanContext(ROOT_CONTEXT, { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED, isRemote: true, traceState: new TraceState('vendor=value') });
    const { provider, ended } = capturingProvider();
    const tracer = provider.getTracer(SCOPE.name, SCOPE.version);
    const sdk: StartServerSpan = (name, attributes, p) => tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, p);
    const direct: ReadableSpan[] = [];
    const start = directServerSpans({ emit: (s) => void direct.push(s), resource, scope: { ...SCOPE } }, new ParentBasedSampler({ root: new AlwaysOnSampler() }));
    for (const parent of [remote, ROOT_CONTEXT]) {
      const fromSdk = runServer(sdk, parent);
      const ours = runServer(start, parent);
      assert.equal(ours.isRecording(), false, 'not recording once ended');
      assert.deepEqual(comparable(direct.splice(0), parent === ROOT_CONTEXT), comparable(ended.splice(0), parent === ROOT_CONTEXT));
      if (parent === remote) assert.equal(ours.spanContext().traceId, '0af7651916cd43dd8448eb211c80319c');
      else assert.match(ours.spanContext().traceId, /^[0-9a-f]{32}$/);
      assert.notEqual(fromSdk.spanContext().spanId, ours.spanContext().spanId);
    }
  });

  test('server spans take the sampler\'s decision, trace state and attributes, as the SDK\'s Tracer does', () => {
    const tagging: Sampler = {
      shouldSample: (_c, traceId) => ({ decision: traceId.startsWith('f') ? SamplingDecision.NOT_RECORD : SamplingDecision.RECORD_AND_SAMPLED, attributes: { 'sampler.tag': 'kept' }, traceState: new TraceState('sampler=1') }),
      toString: () => 'tagging',
    };
    const parents = [
      trace.setSpanContext(ROOT_CONTEXT, { traceId: 'a'.repeat(32), spanId: '1'.repeat(16), traceFlags: TraceFlags.SAMPLED, isRemote: true }),
      trace.setSpanContext(ROOT_CONTEXT, { traceId: 'f'.repeat(32), spanId: '1'.repeat(16), traceFlags: TraceFlags.SAMPLED, isRemote: true }),
      trace.setSpanContext(ROOT_CONTEXT, { traceId: 'b'.repeat(32), spanId: '1'.repeat(16), traceFlags: TraceFlags.NONE, isRemote: true }),
    ];
    const samplers: Sampler[] = [tagging, new ParentBasedSampler({ root: new AlwaysOnSampler() }), new ParentBasedSampler({ root: new AlwaysOffSampler() }), new AlwaysOffSampler(), new TraceIdRatioBasedSampler(0.5)];
    for (const sampler of samplers) {
      const { provider, ended } = capturingProvider(sampler);
      const tracer = provider.getTracer(SCOPE.name, SCOPE.version);
      const direct: ReadableSpan[] = [];
      const start = directServerSpans({ emit: (s) => void direct.push(s), resource, scope: { ...SCOPE } }, sampler);
      for (const parent of parents) {
        const fromSdk = runServer((name, attributes, p) => tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, p), parent);
        const ours = runServer(start, parent);
        const what = `${sampler.toString()} under ${trace.getSpanContext(parent)!.traceId.slice(0, 1)}`;
        assert.equal(ours.spanContext().traceFlags, fromSdk.spanContext().traceFlags, what);
        assert.equal(ours.spanContext().traceState?.serialize(), fromSdk.spanContext().traceState?.serialize(), what);
        assert.equal(direct.length, ended.length, what);
        assert.deepEqual(comparable(direct.splice(0)), comparable(ended.splice(0)), what);
      }
    }
  });

  test('batch spans are the root spans with links the SDK builds for the same calls, sampled as it samples them', () => {
    const links = [1, 2, 3].map((i) => ({ context: { traceId: String(i).repeat(32), spanId: String(i).repeat(16), traceFlags: i === 2 ? TraceFlags.NONE : TraceFlags.SAMPLED } }));
    const attrs = () => ({ 'model.name': 'linear-demo', 'model.batch_size': 5, 'model.feature_count': 3, 'model.batch.requests': 3 });
    const runBatch = (span: Span) => {
      span.setAttribute('model.simulated_latency_ms', 100);
      span.recordException(new Error('the batch failed'));
      span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    };
    // Started inside a request's context, as the batcher does when a request fills a batch: still a root span.
    const requestContext = trace.setSpanContext(ROOT_CONTEXT, { traceId: '9'.repeat(32), spanId: '8'.repeat(16), traceFlags: TraceFlags.SAMPLED });
    const { provider, ended } = capturingProvider();
    const tracer = provider.getTracer(SCOPE.name, SCOPE.version);
    context.with(requestContext, () => runBatch(tracer.startSpan('batch', { kind: SpanKind.INTERNAL, attributes: attrs(), links: [...links], root: true })));
    const direct: ReadableSpan[] = [];
    context.with(requestContext, () => runBatch(directBatchSpans({ emit: (s) => void direct.push(s), resource, scope: { ...SCOPE } }, new ParentBasedSampler({ root: new AlwaysOnSampler() }))('batch', attrs(), [...links])));
    assert.equal(direct.length, 1);
    assert.equal(direct[0]!.parentSpanContext, undefined, 'a root span');
    assert.notEqual(direct[0]!.spanContext().traceId, '9'.repeat(32), 'in a trace of its own');
    assert.equal(direct[0]!.links.length, 3);
    assert.deepEqual(comparable(direct, true), comparable(ended, true));

    const offDirect: ReadableSpan[] = [];
    const off = directBatchSpans({ emit: (s) => void offDirect.push(s), resource, scope: SCOPE }, new AlwaysOffSampler())('batch', attrs(), [...links]);
    assert.equal(off.isRecording(), false, 'a sampler that says no records nothing');
    off.end();
    assert.equal(offDirect.length, 0);
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
