// The lab guide's Tests 1-6, 10, 11 and 12 as written, against `npm start`'s local pipeline: the service with its
// embedded receiver, whose output replaces `kubectl logs ... otel-collector`, filtered by the guide's own greps.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { freePort, postJson, startService, type RunningService } from '../helpers/service.ts';

/** Runs the real grep over the collector output, as the guide pipes `kubectl logs` into it. */
function grep(text: string, ...args: string[]): string {
  try {
    return execFileSync('grep', args, { input: text, encoding: 'utf8' });
  } catch (err) {
    if ((err as { status?: number }).status === 1) return ''; // no match
    throw err;
  }
}

describe("the guide's tests against the local pipeline", () => {
  let svc: RunningService;
  let receiverHealth: string;
  const collectorOutput = () => svc.logs().split('\n').filter((l) => !l.startsWith('{')).join('\n');
  const waitForOutput = async (pattern: RegExp, timeoutMs = 10_000) => {
    const start = Date.now();
    while (!pattern.test(collectorOutput())) {
      if (Date.now() - start > timeoutMs) assert.fail(`collector output never matched ${pattern}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  before(async () => {
    svc = await startService({
      // The exporters are built before the receiver binds, so its ports must be known up front.
      RECEIVER_GRPC_PORT: String(await freePort()),
      RECEIVER_HTTP_PORT: String(await freePort()),
      RECEIVER_HEALTH_PORT: String(await freePort()),
      OTEL_BSP_SCHEDULE_DELAY: '200',
      OTEL_METRIC_EXPORT_INTERVAL: '500',
    });
    receiverHealth = /health (http:\/\/[^\s]+) /.exec(svc.logs())![1]!;
  });
  after(async () => {
    assert.equal(await svc.stop('SIGINT'), 0, 'Ctrl+C stops the service and the receiver cleanly');
  });

  test('Step 11: start-up logs say the SDK, exporter, endpoint, service name, tracing and metrics', () => {
    const msgs = svc.logLines().map((l) => l.msg);
    for (const expected of ['OpenTelemetry SDK initialized', 'Service name: ai-inference-service', 'Tracing enabled: True', 'Metrics enabled: True', 'Application startup complete.']) {
      assert.ok(msgs.includes(expected), expected);
    }
    assert.ok(msgs.some((m) => String(m).startsWith('Exporter configured: otlp')));
    assert.ok(msgs.some((m) => String(m).startsWith('OTLP endpoint: http://127.0.0.1:')));
  });

  test('Tests 1-3: health, a first prediction, and its trace in the collector output (grep -A10 "Trace")', async () => {
    const health = await (await fetch(`${svc.url}/health`)).json();
    assert.equal(health.status, 'ok');
    assert.equal(health.tracing_enabled, true);
    const res = await postJson(`${svc.url}/predict`, { features: [0.5, 1.5, 2.0] });
    assert.equal(res.body.prediction, 4.0);
    const traceId = res.body.trace_id as string;
    await waitForOutput(new RegExp(`Name           : POST /predict`));
    await waitForOutput(new RegExp(`Trace ID       : ${traceId}`));
    const shown = grep(collectorOutput(), '-A10', 'Trace');
    assert.match(shown, new RegExp(`Trace ID       : ${traceId}`));
    assert.match(shown, /Name           : POST \/predict/);
    assert.match(shown, /Kind           : Server/);
  });

  test('Test 4: metrics in the collector output (grep -A5 "Metric") with the guide names and latency buckets', async () => {
    await waitForOutput(/-> Name: prediction_latency_ms/);
    const shown = grep(collectorOutput(), '-A5', 'Metric');
    assert.match(shown, /-> Name: http_requests_total/);
    assert.match(shown, /-> Name: prediction_latency_ms/);
    assert.match(shown, /-> DataType: Histogram/);
    const out = collectorOutput();
    for (const bound of ['50.000000', '100.000000', '150.000000', '200.000000', '250.000000']) {
      assert.match(out, new RegExp(`ExplicitBounds #\\d+: ${bound.replace('.', '\\.')}`));
    }
  });

  test('Test 5: five predictions get five different trace ids', async () => {
    const ids = [];
    for (let i = 1; i <= 5; i++) ids.push((await postJson(`${svc.url}/predict`, { features: [i, 2.0, 3.0] })).body.trace_id);
    assert.equal(new Set(ids).size, 5);
  });

  test('Test 6: the stream shows a summary line per export for traces and metrics (grep -E "(Trace|Metric)")', async () => {
    await waitForOutput(/\tinfo\tTraces\t\{.*"spans": \d+/);
    await waitForOutput(/\tinfo\tMetrics\t\{.*"metrics": \d+/);
    const shown = grep(collectorOutput(), '-E', '(Trace|Metric)');
    assert.ok(shown.split('\n').length > 4);
  });

  test('Test 10: the trace id from the response is found in the collector output (grep "$TRACE_ID")', async () => {
    const traceId = (await postJson(`${svc.url}/predict`, { features: [1.0, 2.0, 3.0] })).body.trace_id as string;
    await waitForOutput(new RegExp(traceId));
    assert.match(grep(collectorOutput(), traceId), new RegExp(`Trace ID(       :|:) ${traceId}`));
  });

  test('Test 11: invalid input gets the FastAPI detail shape and the error shows in the collector output (grep -i error)', async () => {
    const res = await postJson(`${svc.url}/predict`, { invalid: 'data' });
    assert.equal(res.status, 422);
    assert.deepEqual(res.body.detail, [{ loc: ['body', 'features'], msg: 'field required', type: 'value_error.missing' }]);
    await waitForOutput(new RegExp(`Trace ID       : ${res.body.trace_id}`));
    await waitForOutput(/app\.error\.code: Str\(ERR_VALIDATION\)/);
    assert.match(grep(collectorOutput(), '-i', 'error'), /ERR_VALIDATION/);
  });

  test('Test 12: the receiver health endpoint answers like the health_check extension', async () => {
    const body = await (await fetch(receiverHealth)).json();
    assert.equal(body.status, 'Server available');
    assert.ok(!Number.isNaN(Date.parse(body.upSince)));
    assert.match(body.uptime, /^(\d+h)?(\d+m)?[\d.]+s$/);
  });
});
