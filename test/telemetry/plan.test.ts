// The export plan decides, from the configuration alone, how each signal leaves the process and which fast path
// runs; every OTEL_* variable the eager path does not implement either is honoured by it or sends the signal
// through the SDK, and the plan says which and why.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig } from '../../src/shared/config.ts';
import { describePlan, planExport } from '../../src/telemetry/plan.ts';

const plan = (env: Record<string, string> = {}) => planExport(parseConfig(env));
const COLLECTOR = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4317' };

describe('the export plan', () => {
  test('by default, spans and log records take the eager path over gRPC with the direct spans, metrics the SDK reader with the histogram tables', () => {
    const p = plan(COLLECTOR);
    assert.deepEqual(
      { traces: [p.traces.path, p.traces.spans, p.traces.destination], metrics: [p.metrics.path, p.metrics.histograms], logs: [p.logs.path, p.logs.destination] },
      { traces: ['eager', 'direct', 'http://collector:4317'], metrics: ['sdk', 'tables'], logs: ['eager', 'http://collector:4317'] },
    );
    assert.deepEqual(describePlan(p), [
      "traces: otlp grpc to http://collector:4317, eager path (encoded as they end, sent over gRPC in batches); spans direct (server and model spans built without the SDK's Tracer)",
      "metrics: otlp grpc to http://collector:4317, sdk path (the SDK's periodic reader and OTLP exporter); histograms tables (histograms aggregated by series key, explicit buckets)",
      'logs: otlp grpc to http://collector:4317, eager path (encoded as they end, sent over gRPC in batches)',
    ]);
  });

  test('per-signal endpoints and protocols are where each signal really goes', () => {
    const p = plan({
      ...COLLECTOR,
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://metrics:4318/v1/metrics',
      OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'http/protobuf',
    });
    assert.equal(p.traces.destination, 'http://collector:4317');
    assert.deepEqual([p.metrics.destination, p.metrics.protocol], ['http://metrics:4318/v1/metrics', 'http/protobuf']);
    assert.deepEqual([p.logs.destination, p.logs.protocol, p.logs.path], ['http://collector:4317/v1/logs', 'http/protobuf', 'eager']);
  });

  test('prometheus in OTEL_METRICS_EXPORTER adds /metrics beside the push exporter or alone, and the start-up line says where', () => {
    const both = plan({ ...COLLECTOR, OTEL_METRICS_EXPORTER: 'otlp,prometheus' });
    assert.deepEqual([both.metrics.exporter, both.metrics.prometheus, both.metrics.histograms], ['otlp', 'http://127.0.0.1:9464/metrics', 'tables']);
    assert.match(describePlan(both)[1]!, /^metrics: otlp grpc to http:\/\/collector:4317, sdk path .*; also prometheus at http:\/\/127\.0\.0\.1:9464\/metrics$/);
    const alone = plan({ OTEL_METRICS_EXPORTER: 'prometheus', OTEL_EXPORTER_PROMETHEUS_HOST: '0.0.0.0' });
    assert.deepEqual([alone.metrics.exporter, alone.metrics.path, alone.metrics.destination, alone.metrics.histograms], ['prometheus', 'sdk', 'http://0.0.0.0:9464/metrics', 'tables']);
    assert.match(describePlan(alone)[1]!, /^metrics: prometheus to http:\/\/0\.0\.0\.0:9464\/metrics, sdk path/);
    // The tables keep one temporality: beside Prometheus' cumulative, a delta push exporter sends the SDK's histograms.
    const delta = plan({ ...COLLECTOR, OTEL_METRICS_EXPORTER: 'otlp,prometheus', OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta' });
    assert.equal(delta.metrics.histograms, 'sdk');
    assert.match(delta.metrics.histogramsWhy, /TEMPORALITY_PREFERENCE=delta/);
    assert.equal(plan({ ...COLLECTOR, OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta' }).metrics.histograms, 'tables');
  });

  test('the console and none exporters, and a disabled SDK, are planned as such', () => {
    const p = plan({ OTEL_TRACES_EXPORTER: 'console', OTEL_METRICS_EXPORTER: 'none' });
    assert.deepEqual([p.traces.exporter, p.traces.path, p.traces.destination, p.traces.spans], ['console', 'sdk', 'stdout', 'sdk']);
    assert.deepEqual([p.metrics.path, p.metrics.why, p.metrics.histograms], ['none', 'OTEL_METRICS_EXPORTER=none', 'sdk']);
    assert.match(describePlan(p)[1]!, /^metrics: not exported \(OTEL_METRICS_EXPORTER=none\)/);
    const off = plan({ OTEL_SDK_DISABLED: 'true' });
    for (const s of [off.traces, off.metrics, off.logs]) assert.deepEqual([s.exporter, s.path], ['off', 'none']);
  });

  test('EXPORT_PIPELINE=sdk and http/json take the SDK path for spans and log records', () => {
    for (const [env, why] of [[{ EXPORT_PIPELINE: 'sdk' }, 'EXPORT_PIPELINE=sdk'], [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }, 'protocol http/json (the eager path encodes protobuf only)']] as const) {
      const p = plan({ ...COLLECTOR, ...env });
      assert.deepEqual([p.traces.path, p.traces.why, p.traces.spans, p.logs.path, p.logs.why], ['sdk', why, 'sdk', 'sdk', why]);
    }
  });

  // Read by the SDK's OTLP exporters themselves: a signal with one set goes through the SDK's exporter.
  for (const option of ['HEADERS', 'COMPRESSION', 'CERTIFICATE', 'CLIENT_KEY', 'CLIENT_CERTIFICATE', 'INSECURE']) {
    const value = option === 'HEADERS' ? 'x-tenant=lab' : option === 'COMPRESSION' ? 'gzip' : option === 'INSECURE' ? 'true' : '/etc/tls/file.pem';
    test(`OTEL_EXPORTER_OTLP_${option} sends spans and log records through the SDK's exporter; OTEL_EXPORTER_OTLP_TRACES_${option} only the spans`, () => {
      const all = plan({ ...COLLECTOR, [`OTEL_EXPORTER_OTLP_${option}`]: value });
      for (const s of [all.traces, all.logs]) assert.deepEqual([s.path, s.why], ['sdk', `OTEL_EXPORTER_OTLP_${option} is set (only the SDK's exporter implements it)`]);
      const traces = plan({ ...COLLECTOR, [`OTEL_EXPORTER_OTLP_TRACES_${option}`]: value });
      assert.deepEqual([traces.traces.path, traces.logs.path], ['sdk', 'eager']);
      assert.match(traces.traces.why, new RegExp(`^OTEL_EXPORTER_OTLP_TRACES_${option} is set`));
    });
  }

  for (const signal of ['TRACES', 'METRICS', 'LOGS'] as const) {
    test(`OTEL_EXPORTER_OTLP_${signal}_TIMEOUT is honoured for ${signal.toLowerCase()} only, over OTEL_EXPORTER_OTLP_TIMEOUT; a bad value names the variable`, () => {
      const p = plan({ ...COLLECTOR, OTEL_EXPORTER_OTLP_TIMEOUT: '7000', [`OTEL_EXPORTER_OTLP_${signal}_TIMEOUT`]: '1500' });
      const timeouts = { TRACES: p.traces.timeoutMs, METRICS: p.metrics.timeoutMs, LOGS: p.logs.timeoutMs };
      assert.deepEqual(timeouts, { TRACES: 7000, METRICS: 7000, LOGS: 7000, [signal]: 1500 });
      assert.equal(p.traces.path, 'eager', 'a timeout keeps the eager path');
      assert.throws(() => plan({ [`OTEL_EXPORTER_OTLP_${signal}_TIMEOUT`]: 'soon' }), new RegExp(`OTEL_EXPORTER_OTLP_${signal}_TIMEOUT="soon" is not allowed`));
    });
  }

  // Read by the SDK's TracerProvider itself: the spans are then made by the SDK's Tracer (still exported eagerly).
  for (const variable of [
    'OTEL_ATTRIBUTE_COUNT_LIMIT',
    'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT',
    'OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT',
    'OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT',
    'OTEL_SPAN_EVENT_COUNT_LIMIT',
    'OTEL_SPAN_LINK_COUNT_LIMIT',
    'OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT',
    'OTEL_SPAN_ATTRIBUTE_PER_EVENT_COUNT_LIMIT',
    'OTEL_LINK_ATTRIBUTE_COUNT_LIMIT',
    'OTEL_SPAN_ATTRIBUTE_PER_LINK_COUNT_LIMIT',
    'OTEL_NODE_EXPERIMENTAL_SDK_METRICS',
  ]) {
    test(`${variable} makes the spans with the SDK's Tracer, still exported on the eager path`, () => {
      const p = plan({ ...COLLECTOR, [variable]: '64' });
      assert.deepEqual([p.traces.path, p.traces.spans, p.traces.spansWhy], ['eager', 'sdk', `${variable} is set (only the SDK's Tracer implements it)`]);
    });
  }

  test('OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION other than explicit buckets hands the histograms to the SDK', () => {
    const exponential = plan({ OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: 'base2_exponential_bucket_histogram' });
    assert.equal(exponential.metrics.histograms, 'sdk');
    assert.match(exponential.metrics.histogramsWhy, /base2_exponential_bucket_histogram/);
    assert.equal(plan({ OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: 'explicit_bucket_histogram' }).metrics.histograms, 'tables');
  });
});
