import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadEnvironment, parseConfig } from '../../src/shared/config.ts';

test('defaults are the guide values with gRPC to the embedded receiver on 4317', () => {
  const c = parseConfig({});
  assert.equal(c.appEnv, 'local');
  assert.equal(c.port, 9000);
  assert.equal(c.model.latencyMs, 100);
  assert.equal(c.model.jitterMs, 10);
  assert.equal(c.model.maxBatchSize, 32);
  assert.equal(c.model.name, 'simple-linear-demo');
  assert.equal(c.telemetry.serviceName, 'ai-inference-service');
  assert.equal(c.telemetry.traces.protocol, 'grpc');
  assert.equal(c.telemetry.traces.url, 'http://127.0.0.1:4317');
  assert.equal(c.telemetry.embeddedReceiver, true);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.model) && Object.isFrozen(c.telemetry.traces));
});

test('an endpoint turns the embedded receiver off and http protocols get the /v1/<signal> paths', () => {
  const c = parseConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4318/', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'http/json' });
  assert.equal(c.telemetry.embeddedReceiver, false);
  assert.equal(c.telemetry.collectorEndpoint, 'http://otel-collector:4318/');
  assert.equal(c.telemetry.traces.url, 'http://otel-collector:4318/v1/traces');
  assert.equal(c.telemetry.metrics.url, 'http://otel-collector:4318/v1/metrics');
  assert.equal(c.telemetry.logs.protocol, 'http/json');
  assert.equal(c.telemetry.logs.url, 'http://otel-collector:4318/v1/logs');
});

test('a per-signal endpoint is used as it is', () => {
  const c = parseConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://x:1/custom' });
  assert.equal(c.telemetry.traces.url, 'http://x:1/custom');
  assert.equal(c.telemetry.embeddedReceiver, false);
});

test('the eager export pipeline is the default; options only the SDK exporter honours are noticed per signal', () => {
  const c = parseConfig({});
  assert.equal(c.telemetry.exportPipeline, 'eager');
  assert.equal(c.telemetry.exportRetryMs, 60_000);
  assert.equal(c.telemetry.traces.sdkExporterVariable, undefined);
  const h = parseConfig({ OTEL_EXPORTER_OTLP_HEADERS: 'api-key=x' });
  assert.equal(h.telemetry.traces.sdkExporterVariable, 'OTEL_EXPORTER_OTLP_HEADERS');
  assert.equal(h.telemetry.logs.sdkExporterVariable, 'OTEL_EXPORTER_OTLP_HEADERS');
  const l = parseConfig({ OTEL_EXPORTER_OTLP_LOGS_COMPRESSION: 'gzip', OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: ' ' });
  assert.equal(l.telemetry.logs.sdkExporterVariable, 'OTEL_EXPORTER_OTLP_LOGS_COMPRESSION');
  assert.equal(l.telemetry.traces.sdkExporterVariable, undefined, 'a blank value is unset');
});

const bad: [Record<string, string>, RegExp][] = [
  [{ EXPORT_PIPELINE: 'fast' }, /^EXPORT_PIPELINE="fast" is not allowed: expected one of eager, sdk$/],
  [{ API_PORT: 'abc' }, /^API_PORT="abc" is not allowed: expected an integer from 0 to 65535$/],
  [{ API_PORT: '70000' }, /^API_PORT="70000"/],
  [{ DEFAULT_LATENCY_MS: '-5' }, /^DEFAULT_LATENCY_MS="-5" is not allowed: expected a number >= 0$/],
  [{ OTEL_TRACES_EXPORTER: 'zipkin' }, /^OTEL_TRACES_EXPORTER="zipkin" is not allowed: expected one of otlp, console, none$/],
  [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'udp' }, /expected one of grpc, http\/protobuf, http\/json$/],
  [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'otel-collector:4317' }, /expected an http:\/\/ or https:\/\/ URL$/],
  [{ OTEL_SDK_DISABLED: 'yes' }, /expected true or false$/],
  [{ OTEL_TRACES_SAMPLER_ARG: '1.5' }, /^OTEL_TRACES_SAMPLER_ARG="1.5" is not allowed: expected a number from 0 to 1$/],
  [{ MODEL_WEIGHTS: '1,x' }, /^MODEL_WEIGHTS="1,x"/],
  [{ MAX_BATCH_SIZE: '0' }, /^MAX_BATCH_SIZE="0"/],
  [{ OTEL_RESOURCE_ATTRIBUTES: '=x' }, /^OTEL_RESOURCE_ATTRIBUTES/],
  [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL="loud"/],
];
for (const [env, message] of bad) {
  test(`a bad value is refused with a message naming it: ${JSON.stringify(env)}`, () => {
    assert.throws(() => parseConfig(env), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, message);
      assert.equal(err.message.includes('\n'), false, 'one line');
      return true;
    });
  });
}

test('OTEL_RESOURCE_ATTRIBUTES is parsed as percent-encoded key=value pairs', () => {
  const c = parseConfig({ OTEL_RESOURCE_ATTRIBUTES: 'team=ml%20platform,k8s.namespace.name=ai-ml-lab-2-2' });
  assert.deepEqual(c.telemetry.resourceAttributes, { team: 'ml platform', 'k8s.namespace.name': 'ai-ml-lab-2-2' });
});

test('.env is read when present and real environment variables win over it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'env-'));
  writeFileSync(join(dir, '.env'), '# comment\nAPP_ENV=from-file\nZZ_TEST_ONLY_IN_FILE=1\nZZ_TEST_BOTH=file\n');
  process.env.ZZ_TEST_BOTH = 'real';
  try {
    const env = loadEnvironment(dir);
    assert.equal(env.ZZ_TEST_ONLY_IN_FILE, '1');
    assert.equal(env.ZZ_TEST_BOTH, 'real');
    assert.equal(parseConfig({ ...env, APP_ENV: env.APP_ENV }).appEnv, process.env.APP_ENV ?? 'from-file');
  } finally {
    delete process.env.ZZ_TEST_BOTH;
    delete process.env.ZZ_TEST_ONLY_IN_FILE;
    if (process.env.APP_ENV === 'from-file') delete process.env.APP_ENV;
  }
});

test("the receiver's console is on 127.0.0.1:4380 by default, clear of the Collector's, Jaeger's, Grafana's and Prometheus's ports", () => {
  const { console: c } = parseConfig({}).receiver;
  assert.deepEqual([c.enabled, c.host, c.port], [true, '127.0.0.1', 4380]);
  for (const taken of [4317, 4318, 8888, 8889, 13133, 55679, 16686, 14250, 14268, 3000, 9090, 9464, 9000]) assert.notEqual(c.port, taken);
  const set = parseConfig({ RECEIVER_CONSOLE: 'false', RECEIVER_CONSOLE_PORT: '0', RECEIVER_CONSOLE_MAX_TRACES: '10', RECEIVER_CONSOLE_MAX_POINTS: '3' }).receiver.console;
  assert.deepEqual([set.enabled, set.port, set.limits.maxTraces, set.limits.maxPointsPerSeries], [false, 0, 10, 3]);
  assert.throws(() => parseConfig({ RECEIVER_CONSOLE_MAX_LOGS: '0' }), /RECEIVER_CONSOLE_MAX_LOGS="0" is not allowed/);
});

test('OTEL_METRICS_EXPORTER takes the specification\'s comma-separated list: prometheus beside otlp or alone, on loopback 9464 by default', () => {
  assert.equal(parseConfig({}).telemetry.metrics.prometheus, undefined);
  const both = parseConfig({ OTEL_METRICS_EXPORTER: 'otlp, Prometheus' }).telemetry.metrics;
  assert.deepEqual([both.exporter, both.prometheus], ['otlp', { host: '127.0.0.1', port: 9464 }]);
  const alone = parseConfig({ OTEL_METRICS_EXPORTER: 'prometheus', OTEL_EXPORTER_PROMETHEUS_HOST: '0.0.0.0', OTEL_EXPORTER_PROMETHEUS_PORT: '0' }).telemetry.metrics;
  assert.deepEqual([alone.exporter, alone.prometheus], ['none', { host: '0.0.0.0', port: 0 }]);
  for (const bad of ['otlp,console', 'none,prometheus', 'prometheus,statsd']) {
    assert.throws(() => parseConfig({ OTEL_METRICS_EXPORTER: bad }), (e: unknown) => e instanceof ConfigError && e.message.startsWith(`OTEL_METRICS_EXPORTER="${bad}"`), bad);
  }
  assert.throws(() => parseConfig({ OTEL_METRICS_EXPORTER: 'prometheus', OTEL_EXPORTER_PROMETHEUS_PORT: '70000' }), /OTEL_EXPORTER_PROMETHEUS_PORT/);
});
