// End to end: the real service process (production command) exporting over real OTLP to the project's receiver.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { OtlpReceiver } from '../../src/receiver/receiver.ts';
import { HTTP_DURATION_BUCKETS_S, PREDICTION_LATENCY_BUCKETS_MS } from '../../src/telemetry/catalogue.ts';
import { fastExportEnv, postJson, startService, type RunningService } from '../helpers/service.ts';

const HEX32 = /^[0-9a-f]{32}$/;

describe('the service exporting to a receiver over OTLP/gRPC', () => {
  let receiver: OtlpReceiver;
  let svc: RunningService;
  before(async () => {
    receiver = new OtlpReceiver({ grpcPort: 0, httpPort: 0, healthPort: 0 });
    await receiver.start();
    svc = await startService(fastExportEnv(receiver.grpcUrl));
  });
  after(async () => {
    await svc?.stop();
    await receiver?.stop();
  });

  test('health reports tracing and metrics enabled and the configured collector endpoint', async () => {
    const res = await fetch(`${svc.url}/health`);
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.status, 'ok');
    assert.equal(body.env, 'local');
    assert.equal(body.tracing_enabled, true);
    assert.equal(body.metrics_enabled, true);
    assert.equal(body.collector_endpoint, receiver.grpcUrl);
    assert.equal(body.service_name, 'ai-inference-service');
    assert.equal(body.model_name, 'simple-linear-demo');
    assert.match(body.version, /^\d+\.\d+\.\d+/);
  });

  test('a prediction trace arrives with the server span and three pipeline child spans', async () => {
    const res = await postJson(`${svc.url}/predict`, { features: [0.5, 1.5, 2.0] });
    assert.equal(res.status, 200);
    assert.equal(res.body.prediction, 4);
    const traceId = res.body.trace_id as string;
    assert.match(traceId, HEX32);
    await receiver.waitFor(() => receiver.spans.filter((s) => s.traceId === traceId).length >= 4, 10_000, 'four spans');
    const spans = receiver.spans.filter((s) => s.traceId === traceId);
    const server = spans.find((s) => s.name === 'POST /predict')!;
    assert.ok(server, 'server span named after method and route');
    assert.equal(server.kind, 2, 'SERVER kind');
    assert.equal(server.parentSpanId, '');
    assert.equal(server.attributes['http.request.method'], 'POST');
    assert.equal(server.attributes['http.route'], '/predict');
    assert.equal(server.attributes['url.path'], '/predict');
    assert.equal(server.attributes['http.response.status_code'], 200);
    assert.equal(server.resource['service.name'], 'ai-inference-service');
    assert.equal(res.headers.get('traceresponse'), `00-${traceId}-${server.spanId}-01`);
    for (const name of ['preprocess', 'inference', 'postprocess']) {
      const child = spans.find((s) => s.name === name);
      assert.ok(child, `${name} span`);
      assert.equal(child.parentSpanId, server.spanId, `${name} is a child of the server span`);
      assert.equal(child.attributes['model.name'], 'simple-linear-demo');
      assert.equal(child.attributes['model.batch_size'], 1);
      assert.equal(child.attributes['model.feature_count'], 3);
    }
  });

  test('a W3C traceparent is continued: the answer carries the caller trace id and the span its parent', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = '00f067aa0ba902b7';
    const res = await postJson(`${svc.url}/predict`, { features: [1, 2, 3] }, { traceparent: `00-${traceId}-${parent}-01` });
    assert.equal(res.body.trace_id, traceId);
    assert.match(res.headers.get('traceresponse') ?? '', new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    await receiver.waitFor(() => receiver.spans.some((s) => s.traceId === traceId && s.name === 'POST /predict'), 10_000);
    const server = receiver.spans.find((s) => s.traceId === traceId && s.name === 'POST /predict')!;
    assert.equal(server.parentSpanId, parent);
  });

  test('every answered request of 100 has a distinct trace id and every one reaches the receiver', async () => {
    const ids = await Promise.all(
      Array.from({ length: 100 }, (_, i) => postJson(`${svc.url}/predict`, { features: [i, 1] }).then((r) => r.body.trace_id as string)),
    );
    assert.equal(new Set(ids).size, 100);
    await receiver.waitFor(() => ids.every((id) => receiver.traceIds().has(id)), 15_000, 'all 100 traces');
    const wanted = new Set(ids);
    await receiver.waitFor(() => receiver.spans.filter((s) => wanted.has(s.traceId)).length === 400, 15_000, 'all 400 spans');
    // The service counts a span as exported when the receiver's answer is back, just after the receiver stored it.
    let stats = (await (await fetch(`${svc.url}/health`)).json()).telemetry;
    for (let i = 0; i < 50 && stats.spans_exported < 400; i++) {
      await new Promise((r) => setTimeout(r, 50));
      stats = (await (await fetch(`${svc.url}/health`)).json()).telemetry;
    }
    assert.equal(stats.spans_dropped, 0);
    assert.equal(stats.log_records_dropped, 0);
    assert.ok(stats.spans_exported >= 400, 'the four spans of each request counted as exported');
  });

  test('a rejected request is traced with its error code and still carries a trace id', async () => {
    const res = await postJson(`${svc.url}/predict`, { invalid: 'data' });
    assert.equal(res.status, 422);
    assert.deepEqual(res.body.detail, [{ loc: ['body', 'features'], msg: 'field required', type: 'value_error.missing' }]);
    const traceId = res.body.trace_id as string;
    assert.match(traceId, HEX32);
    await receiver.waitFor(() => receiver.spans.some((s) => s.traceId === traceId), 10_000);
    const span = receiver.spans.find((s) => s.traceId === traceId)!;
    assert.equal(span.attributes['http.response.status_code'], 422);
    assert.equal(span.attributes['app.error.code'], 'ERR_VALIDATION');
    assert.equal(span.status.code, 0, '4xx leaves a server span status unset (semantic conventions)');
  });

  test('metrics arrive with the documented names, types, units and bucket boundaries, and count every request', async () => {
    // Baseline first: the counter is cumulative, so count what this test adds on top of earlier tests.
    const counted = () => {
      const latest = [...receiver.metrics].reverse().find((m) => m.name === 'http_requests_total');
      const point = latest?.dataPoints.find((p) => p.attributes.endpoint === '/predict/batch' && p.attributes.status === '200');
      return point?.value ?? 0;
    };
    const before = counted();
    for (let i = 0; i < 7; i++) {
      const r = await postJson(`${svc.url}/predict/batch`, { instances: [[1, 2], [3, 4]] });
      assert.equal(r.status, 200);
    }
    await receiver.waitFor(() => counted() === before + 7, 10_000, 'http_requests_total to count 7 more batch requests');
    const last = (name: string) => [...receiver.metrics].reverse().find((m) => m.name === name)!;
    const requests = last('http_requests_total');
    assert.equal(requests.type, 'Sum');
    assert.equal(requests.isMonotonic, true);
    const latency = last('prediction_latency_ms');
    assert.equal(latency.type, 'Histogram');
    assert.equal(latency.unit, 'ms');
    assert.deepEqual(latency.dataPoints[0]!.explicitBounds, PREDICTION_LATENCY_BUCKETS_MS);
    const duration = last('http.server.request.duration');
    assert.equal(duration.unit, 's');
    assert.deepEqual(duration.dataPoints[0]!.explicitBounds, HTTP_DURATION_BUCKETS_S);
    assert.ok(last('http.server.active_requests'), 'active requests up-down counter');
    assert.ok(last('predictions_total'), 'predictions counter');
    assert.ok(receiver.metrics.some((m) => m.name.startsWith('nodejs.eventloop.')), 'runtime metrics');
    assert.ok(receiver.metrics.some((m) => m.name.startsWith('v8js.memory.heap')), 'heap metrics');
  });

  test('request log lines carry the trace id on stdout and as OTLP log records', async () => {
    const res = await postJson(`${svc.url}/predict`, { features: [2, 2] });
    const traceId = res.body.trace_id as string;
    await receiver.waitFor(() => receiver.logs.filter((l) => l.traceId === traceId).length >= 2, 10_000, 'log records');
    const bodies = receiver.logs.filter((l) => l.traceId === traceId).map((l) => l.body);
    assert.ok(bodies.includes('Prediction request received'));
    assert.ok(bodies.some((b) => typeof b === 'string' && b.startsWith('Prediction completed - latency: ')));
    const lines = svc.logLines().filter((l) => l.trace_id === traceId);
    assert.ok(lines.length >= 2, 'stdout lines with trace_id');
    for (const l of lines) assert.match(String(l.span_id), /^[0-9a-f]{16}$/);
  });
});

describe('shutdown and faults', () => {
  test('SIGTERM drains, exits 0 and flushes every span of the answered requests', async () => {
    const receiver = new OtlpReceiver({ grpcPort: 0, httpPort: 0, healthPort: 0 });
    await receiver.start();
    // A schedule delay far beyond the test: only the shutdown flush can deliver the spans.
    const svc = await startService({ ...fastExportEnv(receiver.grpcUrl), OTEL_BSP_SCHEDULE_DELAY: '600000' });
    try {
      const ids = await Promise.all(
        Array.from({ length: 20 }, () => postJson(`${svc.url}/predict`, { features: [1] }).then((r) => r.body.trace_id as string)),
      );
      assert.equal(receiver.traceIds().size, 0, 'nothing exported before shutdown');
      assert.equal(await svc.stop('SIGTERM'), 0);
      for (const id of ids) assert.ok(receiver.traceIds().has(id), `trace ${id} flushed on shutdown`);
    } finally {
      await svc.stop();
      await receiver.stop();
    }
  });

  test('readiness turns false while draining and in-flight requests still complete', async () => {
    const svc = await startService({ OTEL_SDK_DISABLED: 'true', DEFAULT_LATENCY_MS: '400', SHUTDOWN_DELAY_MS: '300' });
    try {
      assert.equal((await fetch(`${svc.url}/readyz`)).status, 200);
      const inflight = postJson(`${svc.url}/predict`, { features: [1, 2] });
      await new Promise((r) => setTimeout(r, 50));
      svc.proc.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 100));
      const ready = await fetch(`${svc.url}/readyz`);
      assert.equal(ready.status, 503);
      const res = await inflight;
      assert.equal(res.status, 200);
      assert.equal(res.body.prediction, 3);
      assert.equal(await svc.exited, 0);
    } finally {
      await svc.stop();
    }
  });

  test('a dead collector fails no request and the export failure is logged once, not per span', async () => {
    const svc = await startService({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', // discard port: nothing listens
      OTEL_EXPORTER_OTLP_TIMEOUT: '500',
      EXPORT_RETRY_MS: '0', // no retries: each batch fails at its first attempt (retries: test/eager-export.test.ts)
      OTEL_BSP_SCHEDULE_DELAY: '50',
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
      DEFAULT_LATENCY_MS: '0',
    });
    try {
      for (let i = 0; i < 30; i++) {
        const r = await postJson(`${svc.url}/predict`, { features: [i] });
        assert.equal(r.status, 200);
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, 1500));
      const health = await (await fetch(`${svc.url}/health`)).json();
      assert.ok(health.telemetry.spans_export_failed > 0, 'failures are counted on /health');
      const warnings = svc.logLines().filter((l) => String(l.msg).startsWith('OTLP span export failed'));
      assert.equal(warnings.length, 1, 'one warning per 10 s interval');
    } finally {
      assert.equal(await svc.stop('SIGTERM'), 0);
    }
  });

  test('OTEL_SDK_DISABLED=true still answers with unique trace ids and reports tracing disabled', async () => {
    const svc = await startService({ OTEL_SDK_DISABLED: 'true', DEFAULT_LATENCY_MS: '0' });
    try {
      const health = await (await fetch(`${svc.url}/health`)).json();
      assert.equal(health.tracing_enabled, false);
      assert.equal(health.metrics_enabled, false);
      const a = await postJson(`${svc.url}/predict`, { features: [1] });
      const b = await postJson(`${svc.url}/predict`, { features: [1] });
      assert.match(a.body.trace_id, HEX32);
      assert.notEqual(a.body.trace_id, b.body.trace_id);
    } finally {
      await svc.stop();
    }
  });

  test('a bad configuration value stops start-up with one line naming the variable, the value and what is allowed', async () => {
    await assert.rejects(startService({ API_PORT: 'abc' }), (err: Error) => {
      assert.match(err.message, /exited with 2/);
      assert.match(err.message, /Invalid configuration: API_PORT="abc" is not allowed: expected an integer from 0 to 65535/);
      return true;
    });
  });
});

// Each protocol, and which export path the plan gives it (the start-up log says, with the reason): eager for OTLP
// protobuf unless an option only the SDK's exporter implements is set, the SDK's for http/json; the server and
// stage spans built directly unless a variable only the SDK's Tracer honours is set.
const pipelines: { protocol: 'grpc' | 'http/protobuf' | 'http/json'; env: Record<string, string>; traces: string[]; logs: string }[] = [
  { protocol: 'http/protobuf', env: {}, traces: ['eager path', 'spans direct'], logs: 'eager path' },
  { protocol: 'http/json', env: {}, traces: ['sdk path (protocol http/json', 'spans sdk'], logs: 'sdk path (protocol http/json' },
  { protocol: 'grpc', env: { EXPORT_PIPELINE: 'sdk' }, traces: ['sdk path (EXPORT_PIPELINE=sdk)', 'spans sdk'], logs: 'sdk path (EXPORT_PIPELINE=sdk)' },
  { protocol: 'grpc', env: { OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=lab' }, traces: ['sdk path (OTEL_EXPORTER_OTLP_HEADERS is set'], logs: 'sdk path (OTEL_EXPORTER_OTLP_HEADERS is set' },
  { protocol: 'grpc', env: { OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT: '64' }, traces: ['eager path', 'spans direct'], logs: 'eager path' },
  { protocol: 'grpc', env: { OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '64' }, traces: ['eager path', 'spans sdk (OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT is set'], logs: 'eager path' },
];
for (const { protocol, env, traces, logs } of pipelines) {
  test(`traces, metrics and logs also arrive over OTLP ${protocol} ${JSON.stringify(env)}`, async () => {
    const receiver = new OtlpReceiver({ grpcPort: 0, httpPort: 0, healthPort: 0 });
    await receiver.start();
    const svc = await startService({ ...fastExportEnv(protocol === 'grpc' ? receiver.grpcUrl : receiver.httpUrl), OTEL_EXPORTER_OTLP_PROTOCOL: protocol, ...env });
    try {
      const planLine = (signal: string) => String(svc.logLines().find((l) => String(l.msg).startsWith(`Export plan: ${signal}: `))?.msg ?? '');
      for (const part of traces) assert.ok(planLine('traces').includes(part), `${planLine('traces')} says ${part}`);
      assert.ok(planLine('logs').includes(logs), `${planLine('logs')} says ${logs}`);
      assert.ok(planLine('metrics').includes(`otlp ${protocol} to `), planLine('metrics'));
      const res = await postJson(`${svc.url}/predict`, { features: [1, 2] });
      await receiver.waitForTrace(res.body.trace_id, 10_000);
      await receiver.waitFor(() => receiver.metrics.some((m) => m.name === 'http_requests_total'), 10_000, 'metrics');
      await receiver.waitFor(() => receiver.logs.some((l) => l.traceId === res.body.trace_id), 10_000, 'logs');
      const ofTrace = (name: string) => receiver.spans.find((s) => s.traceId === res.body.trace_id && s.name === name);
      await receiver.waitFor(() => ofTrace('POST /predict') !== undefined, 10_000, 'server span');
      const server = ofTrace('POST /predict');
      for (const stage of ['preprocess', 'inference', 'postprocess']) {
        await receiver.waitFor(() => ofTrace(stage) !== undefined, 10_000, stage);
        assert.equal(ofTrace(stage)?.parentSpanId, server?.spanId, `${stage} is a child of the server span`);
      }
    } finally {
      await svc.stop();
      await receiver.stop();
    }
  });
}
