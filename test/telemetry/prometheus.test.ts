// OTEL_METRICS_EXPORTER=otlp,prometheus: /metrics serves the same histograms as OTLP (boundaries and counts),
// under the names the OpenTelemetry-to-Prometheus rules give, and the OTLP export keeps working beside it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { OtlpReceiver } from '../../src/receiver/receiver.ts';
import { HTTP_DURATION_BUCKETS_S, PREDICTION_LATENCY_BUCKETS_MS } from '../../src/telemetry/catalogue.ts';
import { prometheusName } from '../../src/telemetry/prometheus.ts';
import { fastExportEnv, postJson, startService, type RunningService } from '../helpers/service.ts';

describe('prometheusName: the OpenTelemetry-to-Prometheus name rules, as the Collector\'s prometheus exporter applies them', () => {
  const cases: [string, string, 'counter' | 'gauge' | 'histogram', string][] = [
    ['prediction_latency_ms', 'ms', 'histogram', 'prediction_latency_ms_milliseconds'],
    ['http.server.request.duration', 's', 'histogram', 'http_server_request_duration_seconds'],
    ['http_requests_total', '{request}', 'counter', 'http_requests_total'],
    ['predictions_by_model', '{prediction}', 'counter', 'predictions_by_model_total'],
    ['predictions.by_model', '{prediction}', 'counter', 'predictions_by_model_total'],
    ['http.server.active_requests', '{request}', 'gauge', 'http_server_active_requests'],
    ['nodejs.eventloop.time', 's', 'counter', 'nodejs_eventloop_time_seconds_total'],
    ['nodejs.eventloop.utilization', '1', 'gauge', 'nodejs_eventloop_utilization_ratio'],
    ['v8js.memory.heap.used', 'By', 'gauge', 'v8js_memory_heap_used_bytes'],
    ['queue_size_bytes', 'By', 'gauge', 'queue_size_bytes'],
    ['throughput', 'By/s', 'gauge', 'throughput_bytes_per_second'],
  ];
  for (const [name, unit, type, expected] of cases) {
    test(`${name} (${unit}, ${type}) is ${expected}`, () => assert.equal(prometheusName(name, unit, type), expected));
  }
});

/** The samples of a Prometheus text exposition: name, labels, value. */
function samples(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  return text
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(l);
      assert.ok(m, `a sample line: ${l}`);
      const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!]));
      return { name: m[1]!, labels, value: m[3] === '+Inf' ? Infinity : Number(m[3]) };
    });
}

describe('the service with OTEL_METRICS_EXPORTER=otlp,prometheus', () => {
  let receiver: OtlpReceiver;
  let svc: RunningService;
  let metricsUrl: string;
  before(async () => {
    receiver = new OtlpReceiver({ grpcPort: 0, httpPort: 0, healthPort: 0 });
    await receiver.start();
    svc = await startService({ ...fastExportEnv(receiver.grpcUrl), OTEL_METRICS_EXPORTER: 'otlp,prometheus', OTEL_EXPORTER_PROMETHEUS_PORT: '0' });
    metricsUrl = /Prometheus metrics: (http:\/\/\S+)/.exec(svc.logs())![1]!;
    for (let i = 0; i < 5; i++) assert.equal((await postJson(`${svc.url}/predict`, { features: [1, 2] })).status, 200);
    assert.equal((await postJson(`${svc.url}/predict/batch`, { instances: [[1], [2], [3]] })).status, 200);
  });
  after(async () => {
    await svc?.stop();
    await receiver?.stop();
  });

  test('/health and the start-up log say where metrics go: OTLP and the /metrics URL', async () => {
    const health = (await (await fetch(`${svc.url}/health`)).json()) as { exports: { metrics: Record<string, unknown> } };
    assert.equal(health.exports.metrics.exporter, 'otlp');
    assert.equal(health.exports.metrics.prometheus, metricsUrl);
    assert.match(svc.logs(), /Export plan: metrics: otlp grpc to .*; also prometheus at http:\/\/127\.0\.0\.1:0\/metrics/);
    assert.match(metricsUrl, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  });

  test('/metrics serves the histograms with their boundaries and the same counts the OTLP export carries', async () => {
    const res = await fetch(metricsUrl);
    assert.equal(res.status, 200);
    const all = samples(await res.text());
    const buckets = (name: string, endpoint: string, label: string) =>
      all.filter((s) => s.name === `${name}_bucket` && s.labels[label] === endpoint).map((s) => [s.labels.le, s.value] as const);
    const latency = buckets('prediction_latency_ms_milliseconds', '/predict', 'endpoint');
    assert.deepEqual(latency.map(([le]) => le), [...PREDICTION_LATENCY_BUCKETS_MS.map(String), '+Inf']);
    assert.equal(latency.at(-1)![1], 5, 'five /predict requests');
    const duration = buckets('http_server_request_duration_seconds', '/predict', 'http_route');
    assert.deepEqual(duration.map(([le]) => le), [...HTTP_DURATION_BUCKETS_S.map(String), '+Inf']);
    const byModel = all.find((s) => s.name === 'predictions_by_model_total' && s.labels.outcome === 'success');
    assert.deepEqual([byModel?.labels.model_name, byModel?.value], ['simple-linear-demo', 8], 'five single predictions and a batch of three');
    assert.ok(all.some((s) => s.name === 'model_pending_requests' && s.labels.model_name === 'simple-linear-demo'));
    assert.ok(all.some((s) => s.name === 'target_info' && s.labels.service_name === 'ai-inference-service'));

    // The OTLP path carries the same histogram: same boundaries, and cumulative counts that reach the scrape's.
    const deadline = Date.now() + 10_000;
    let otlp: number[] | undefined;
    while (Date.now() < deadline) {
      const p = receiver.metrics.filter((m) => m.name === 'prediction_latency_ms').flatMap((m) => m.dataPoints).filter((d) => d.attributes.endpoint === '/predict').at(-1);
      if (p?.count === 5) {
        assert.deepEqual(p.explicitBounds, PREDICTION_LATENCY_BUCKETS_MS);
        otlp = p.bucketCounts;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(otlp, 'the OTLP export carried the five /predict records');
    let cumulative = 0;
    assert.deepEqual(latency.map(([, v]) => v), otlp.map((c) => (cumulative += c)));
  });

  test('/metrics answers 404 elsewhere', async () => {
    assert.equal((await fetch(metricsUrl.replace(/\/metrics$/, '/other'))).status, 404);
  });
});

test('a /metrics port already in use stops start-up with one line naming the variables', async () => {
  const { createServer } = await import('node:net');
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const port = (busy.address() as { port: number }).port;
  try {
    await assert.rejects(
      startService({ OTEL_METRICS_EXPORTER: 'prometheus', OTEL_EXPORTER_PROMETHEUS_PORT: String(port), OTEL_TRACES_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none' }),
      (err: Error) => /exited with 2/.test(err.message) && /Cannot serve Prometheus metrics on 127\.0\.0\.1:\d+ \(OTEL_EXPORTER_PROMETHEUS_HOST\/_PORT\): .*EADDRINUSE/.test(err.message),
    );
  } finally {
    busy.close();
  }
});

test('with a delta OTLP exporter beside it, /metrics still serves cumulative histograms with their boundaries (the SDK aggregates per reader)', async () => {
  const receiver = new OtlpReceiver({ grpcPort: 0, httpPort: 0, healthPort: 0 });
  await receiver.start();
  const svc = await startService({
    ...fastExportEnv(receiver.grpcUrl),
    OTEL_METRICS_EXPORTER: 'otlp,prometheus',
    OTEL_EXPORTER_PROMETHEUS_PORT: '0',
    OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta',
  });
  try {
    assert.match(svc.logs(), /histograms sdk \(OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta/);
    const metricsUrl = /Prometheus metrics: (http:\/\/\S+)/.exec(svc.logs())![1]!;
    const count = async () => {
      const all = samples(await (await fetch(metricsUrl)).text());
      const b = all.filter((s) => s.name === 'prediction_latency_ms_milliseconds_bucket' && s.labels.endpoint === '/predict');
      assert.deepEqual(b.map((s) => s.labels.le), [...PREDICTION_LATENCY_BUCKETS_MS.map(String), '+Inf']);
      return b.at(-1)!.value;
    };
    for (let i = 0; i < 2; i++) await postJson(`${svc.url}/predict`, { features: [1] });
    assert.equal(await count(), 2);
    await postJson(`${svc.url}/predict`, { features: [1] });
    assert.equal(await count(), 3, 'cumulative across scrapes');
  } finally {
    await svc.stop();
    await receiver.stop();
  }
});
