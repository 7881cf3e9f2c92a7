// Every signal's export is counted and warned about, metrics included; /health and the start-up log say where each
// signal really goes; the eager exports identify themselves as the SDK's exporters do; metrics leave as one
// ScopeMetrics per scope.
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { Server as GrpcServer, ServerCredentials, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { OtlpReceiver } from '../../src/receiver/receiver.ts';
import { createInstruments, SCOPE } from '../../src/telemetry/catalogue.ts';
import { grpcTransport, httpTransport } from '../../src/telemetry/eager-export.ts';
import { CountingMetricExporter } from '../../src/telemetry/export-pipeline.ts';
import { HistogramProducer } from '../../src/telemetry/histograms.ts';
import { fastExportEnv, postJson, startService, type RunningService } from '../helpers/service.ts';

/** An HTTP server on port 0 that answers every request with `status`, remembering the request headers. */
async function answering(status: number): Promise<{ server: Server; url: string; headers: IncomingHttpHeaders[] }> {
  const headers: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    headers.push(req.headers);
    req.resume();
    req.on('end', () => res.writeHead(status).end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, headers };
}

describe('a metrics endpoint that answers 404', () => {
  let receiver: OtlpReceiver;
  let refusing: Awaited<ReturnType<typeof answering>>;
  let svc: RunningService;
  before(async () => {
    receiver = new OtlpReceiver({ grpcPort: 0, httpPort: 0, healthPort: 0 });
    await receiver.start();
    refusing = await answering(404);
    svc = await startService({
      ...fastExportEnv(receiver.grpcUrl),
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${refusing.url}/v1/metrics`,
      OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/protobuf',
      OTEL_METRIC_EXPORT_INTERVAL: '200',
    });
    await postJson(`${svc.url}/predict`, { features: [1, 2] });
    const deadline = Date.now() + 10_000;
    while (refusing.headers.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  });
  after(async () => {
    await svc?.stop();
    await receiver?.stop();
    refusing?.server.close();
  });

  test('the failure is warned about, counted on /health, and the shutdown does not claim a flush', async () => {
    const warning = svc.logLines().find((l) => l.level === 'warn' && String(l.msg).startsWith('OTLP metric data point export failed'));
    assert.ok(warning, 'a warning names the failing signal');
    const health = (await (await fetch(`${svc.url}/health`)).json()) as { telemetry: Record<string, number>; exports: Record<string, { endpoint: string; protocol: string; path: string }> };
    assert.ok(health.telemetry.metric_points_export_failed! > 0, JSON.stringify(health.telemetry));
    assert.equal(health.telemetry.metric_points_exported, 0);
    assert.equal(await svc.stop('SIGTERM'), 0);
    const summary = svc.logLines().find((l) => String(l.msg).startsWith('Telemetry not fully delivered'));
    assert.ok(summary, 'the shutdown says what was not delivered');
    assert.match(String(summary.msg), /metric_points/);
    assert.ok(!svc.logLines().some((l) => String(l.msg).includes('Telemetry flushed')));
  });

  test('/health and the start-up log name where each signal really goes', async () => {
    const lines = svc.logLines().map((l) => String(l.msg));
    assert.ok(lines.includes(`Export plan: metrics: otlp http/protobuf to ${refusing.url}/v1/metrics, sdk path (the SDK's periodic reader and OTLP exporter); histograms tables (histograms aggregated by series key, explicit buckets)`), lines.join('\n'));
    assert.ok(lines.some((l) => l.startsWith(`Export plan: traces: otlp grpc to ${receiver.grpcUrl}, eager path`)));
    assert.ok(lines.some((l) => l.startsWith(`Export plan: logs: otlp grpc to ${receiver.grpcUrl}, eager path`)));
  });
});

test('/health of a running service names each signal\'s exporter, protocol, endpoint and path', async () => {
  const receiver = new OtlpReceiver({ grpcPort: 0, httpPort: 0, healthPort: 0 });
  await receiver.start();
  const svc = await startService({ ...fastExportEnv(receiver.grpcUrl), OTEL_LOGS_EXPORTER: 'none', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.httpUrl}/v1/traces` });
  try {
    const health = (await (await fetch(`${svc.url}/health`)).json()) as { exports: unknown; logs_enabled: boolean };
    assert.deepEqual(health.exports, {
      traces: { exporter: 'otlp', protocol: 'http/protobuf', endpoint: `${receiver.httpUrl}/v1/traces`, path: 'eager' },
      metrics: { exporter: 'otlp', protocol: 'grpc', endpoint: receiver.grpcUrl, path: 'sdk' },
      logs: { exporter: 'none', protocol: null, endpoint: 'nowhere', path: 'none' },
    });
    assert.equal(health.logs_enabled, false);
  } finally {
    await svc.stop();
    await receiver.stop();
  }
});

test('eager exports send the User-Agent of the SDK\'s OTLP exporters, over HTTP and gRPC', async () => {
  const http = await answering(200);
  const grpcAgents: string[] = [];
  const grpc = new GrpcServer();
  const handler: UntypedServiceImplementation = {
    Export: (call: { metadata: { get(k: string): unknown[] } }, callback: (err: null, value: Buffer) => void) => {
      grpcAgents.push(String(call.metadata.get('user-agent')[0]));
      callback(null, Buffer.alloc(0));
    },
  };
  const same = (b: Buffer) => b;
  grpc.addService({ Export: { path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export', requestStream: false, responseStream: false, requestSerialize: same, requestDeserialize: same, responseSerialize: same, responseDeserialize: same } }, handler);
  const port = await new Promise<number>((resolve, reject) => grpc.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  try {
    const overHttp = httpTransport('traces', `${http.url}/v1/traces`);
    assert.deepEqual(await overHttp.send(Buffer.alloc(0), 5000), { ok: true, rejected: 0 });
    const overGrpc = grpcTransport('traces', `http://127.0.0.1:${port}`);
    assert.equal((await overGrpc.send(Buffer.alloc(0), 5000)).ok, true);
    overGrpc.close();
    assert.match(String(http.headers[0]!['user-agent']), /^OTel-OTLP-Exporter-JavaScript\/\d+\.\d+\.\d+$/);
    assert.match(grpcAgents[0]!, /^OTel-OTLP-Exporter-JavaScript\/\d+\.\d+\.\d+ grpc-node-js\//);
  } finally {
    http.server.close();
    grpc.forceShutdown();
  }
});

test('metrics leave as one ScopeMetrics per scope, the histogram tables included, and their data points are counted', async () => {
  const resource = resourceFromAttributes({ 'service.name': 'svc' });
  const memory = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const exporter = new CountingMetricExporter(memory, () => assert.fail('no failure expected'));
  const histograms = new HistogramProducer(SCOPE, AggregationTemporality.CUMULATIVE, resource);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000, metricProducers: [histograms] });
  const provider = new MeterProvider({ resource, readers: [reader] });
  const instruments = createInstruments(provider.getMeter(SCOPE.name, SCOPE.version), histograms);
  instruments.httpRequests.create('POST /predict 200', { method: 'POST', endpoint: '/predict', status: '200' }, 1);
  instruments.predictionLatencyMs.create('/predict', { endpoint: '/predict' }, 12);
  instruments.httpServerRequestDuration.create('k', { 'http.request.method': 'POST' }, 0.012);
  await reader.forceFlush();
  const [exported] = memory.getMetrics();
  const scopes = exported!.scopeMetrics.filter((s) => s.scope.name === SCOPE.name);
  assert.equal(scopes.length, 1, 'one ScopeMetrics for the service\'s scope');
  assert.deepEqual(scopes[0]!.metrics.map((m) => m.descriptor.name).sort(), ['http.server.request.duration', 'http_requests_total', 'prediction_latency_ms', 'process.cpu.time']);
  // Three recorded points and process.cpu.time's two (user, system).
  assert.deepEqual(exporter.status(), { ended: 5, exported: 5, failed: 0, inFlight: 0, queued: 0, dropped: 0 });
  await provider.shutdown();
});
