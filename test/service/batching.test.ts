// Dynamic batching through the real app: concurrent /predict and /predict/batch requests of one shape share a model
// call and get their own answers, other shapes run apart, the spans and links say so, and a client that goes away
// while queued leaves nothing behind. Real SDK Tracer and context manager, real HTTP on port 0.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { buildApp } from '../../src/service/app.ts';
import { parseConfig } from '../../src/shared/config.ts';
import { tracerSpans } from '../../src/telemetry/catalogue.ts';
import { appDeps } from '../helpers/app-deps.ts';
import { useGlobalTracing } from '../helpers/global-tracing.ts';
import { ROOT } from '../helpers/service.ts';

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });

useGlobalTracing(provider);

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function make(env: Record<string, string>) {
  const config = parseConfig({ LATENCY_JITTER_MS: '0', ...env }, '1.2.3');
  return buildApp(config, appDeps({ spans: tracerSpans(provider.getTracer('batching-test')) }));
}

describe('dynamic batching behind /predict and /predict/batch', () => {
  const { app, admission } = make({ DEFAULT_LATENCY_MS: '20', MAX_QUEUE_DELAY_US: '200000', MAX_BATCH_SIZE: '5' });
  after(() => app.close());

  test('requests of one shape share one model call and each gets its own answer; another shape runs apart', async () => {
    exporter.reset();
    const post = (url: string, payload: Record<string, unknown>) => app.inject({ method: 'POST', url, payload });
    const answers = await Promise.all([
      post('/predict', { features: [0.5, 1.5, 2.0] }),
      post('/predict/batch', { instances: [[1, 2, 3], [4, 5, 6]] }),
      post('/predict', { features: [1, 1] }),
      post('/predict', { features: [2, 2, 2] }),
      post('/predict', { features: [3, 3, 3] }),
    ]);
    assert.deepEqual(answers.map((a) => a.statusCode), [200, 200, 200, 200, 200]);
    assert.equal(answers[0]!.json().prediction, 4, "the guide's answer");
    assert.deepEqual(answers[1]!.json().predictions, [6, 15]);
    assert.equal(answers[2]!.json().prediction, 2);
    assert.equal(answers[3]!.json().prediction, 6);
    assert.equal(answers[4]!.json().prediction, 9);

    const spans = exporter.getFinishedSpans();
    const batches = spans.filter((s) => s.name === 'batch');
    // Three features: 1 + 2 + 1 + 1 rows fill the batch of five at once; two features wait out the delay alone.
    assert.deepEqual(batches.map((b) => [b.attributes['model.feature_count'], b.attributes['model.batch_size'], b.attributes['model.batch.requests']]).sort(), [[2, 1, 1], [3, 5, 4]]);
    const servers = spans.filter((s) => s.name.startsWith('POST '));
    assert.equal(servers.length, 5);
    for (const server of servers) {
      assert.equal(server.links.length, 1, `${server.name} links to its batch`);
      const batch = batches.find((b) => b.spanContext().spanId === server.links[0]!.context.spanId)!;
      assert.ok(batch.links.some((l) => l.context.spanId === server.spanContext().spanId), 'and the batch links back');
      const stages = spans.filter((s) => s.parentSpanContext?.spanId === server.spanContext().spanId);
      for (const name of ['preprocess', 'inference', 'postprocess']) assert.ok(stages.some((s) => s.name === name), `${name} under ${server.name}`);
      const inference = stages.find((s) => s.name === 'inference')!;
      assert.equal(inference.attributes['model.simulated_latency_ms'], 20, 'the batch time, on each request it served');
    }
  });

  test('a client that goes away while its request is queued takes it out of the queue', async () => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    const body = JSON.stringify({ features: [7, 7, 7, 7] });
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write(`POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    await until(() => admission.queued === 1, 'the request to queue');
    socket.destroy();
    await until(() => admission.queued === 0, 'the queue to empty');
    assert.equal(admission.inFlight, 0, 'it never ran');
    await until(() => exporter.getFinishedSpans().some((s) => s.name === 'queue' && s.attributes['model.feature_count'] === 4), 'its queue span');
    const queue = exporter.getFinishedSpans().find((s) => s.name === 'queue' && s.attributes['model.feature_count'] === 4)!;
    assert.equal(queue.status.code, 2, 'the queue span ends in error');
    assert.ok(!exporter.getFinishedSpans().some((s) => s.name === 'batch' && s.attributes['model.feature_count'] === 4), 'no batch ran for it');
    const serverSpanId = queue.parentSpanContext!.spanId;
    await until(() => exporter.getFinishedSpans().some((s) => s.spanContext().spanId === serverSpanId), 'its server span to end');
    const server = exporter.getFinishedSpans().find((s) => s.spanContext().spanId === serverSpanId)!;
    assert.deepEqual([server.attributes['http.response.status_code'], server.attributes['error.type'], server.attributes['app.error.code']], [499, 'aborted', 'ERR_CLIENT_CLOSED']);
  });
});

describe('dynamic batching behind v2 infer', () => {
  test('v2 requests for one model share a run, and each gets exactly the outputs it gets alone', async () => {
    const { app } = make({ DEFAULT_LATENCY_MS: '0', MAX_QUEUE_DELAY_US: '100000' });
    try {
      const infer = (data: number[][], id: string) =>
        app.inject({ method: 'POST', url: '/v2/models/iris-classifier/infer', payload: { id, inputs: [{ name: 'input', shape: [data.length, 4], datatype: 'FP32', data }] } });
      const a = [[5.1, 3.5, 1.4, 0.2]];
      const b = [[6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]];
      const alone = [(await infer(a, 'a')).json(), (await infer(b, 'b')).json()];
      exporter.reset();
      const together = (await Promise.all([infer(a, 'a'), infer(b, 'b')])).map((r) => r.json());
      assert.deepEqual(together, alone);
      assert.deepEqual(together[0].outputs[0].data, [0], 'setosa');
      assert.deepEqual(together[1].outputs[0].shape, [2], 'two labels for two rows');
      const batches = exporter.getFinishedSpans().filter((s) => s.name === 'batch');
      assert.deepEqual(batches.map((x) => [x.attributes['model.name'], x.attributes['model.batch_size'], x.attributes['model.batch.requests'], x.links.length]), [['iris-classifier', 3, 2, 2]]);
    } finally {
      await app.close();
    }
  });
});

describe('MAX_BATCH_SIZE=1', () => {
  test('turns batching off: every request runs alone, concurrent ones each in its own model call', async () => {
    const { app } = make({ DEFAULT_LATENCY_MS: '10', MAX_BATCH_SIZE: '1', MODEL_CONCURRENCY: '1', MAX_QUEUE_DELAY_US: '100000' });
    try {
      exporter.reset();
      const answers = await Promise.all([1, 2, 3].map((x) => app.inject({ method: 'POST', url: '/predict', payload: { features: [x] } })));
      assert.deepEqual(answers.map((a) => a.json().prediction), [1, 2, 3]);
      const batches = exporter.getFinishedSpans().filter((s) => s.name === 'batch');
      assert.deepEqual(batches.map((b) => b.attributes['model.batch_size']), [1, 1, 1]);
    } finally {
      await app.close();
    }
  });
});

describe('per-model settings from the model repository', () => {
  const repository = mkdtempSync(join(tmpdir(), 'batching-repo-'));
  after(() => rmSync(repository, { recursive: true, force: true }));

  test("config.json's max_batch_size, max_queue_delay_microseconds and preferred_batch_size win over the variables", async () => {
    cpSync(join(ROOT, 'models/simple-linear-demo'), join(repository, 'simple-linear-demo'), { recursive: true });
    writeFileSync(
      join(repository, 'simple-linear-demo', 'config.json'),
      JSON.stringify({ max_batch_size: 4, dynamic_batching: { max_queue_delay_microseconds: 60_000_000, preferred_batch_size: [2] } }),
    );
    const { app } = make({ MODEL_REPOSITORY: repository, DEFAULT_LATENCY_MS: '0', MAX_BATCH_SIZE: '32', MAX_QUEUE_DELAY_US: '0' });
    try {
      exporter.reset();
      // A minute's delay: only the preferred size (2 rows) starts a batch, so four requests make two batches of two.
      const answers = await Promise.all([1, 2, 3, 4].map((x) => app.inject({ method: 'POST', url: '/predict', payload: { features: [x, x] } })));
      assert.deepEqual(answers.map((a) => a.json().prediction), [2, 4, 6, 8]);
      const batches = exporter.getFinishedSpans().filter((s) => s.name === 'batch');
      assert.deepEqual(batches.map((b) => b.attributes['model.batch_size']), [2, 2]);
      const tooMany = await app.inject({ method: 'POST', url: '/predict/batch', payload: { instances: [[1], [2], [3], [4], [5]] } });
      assert.equal(tooMany.statusCode, 422, "more rows than the model's max_batch_size are refused");
      assert.match(tooMany.json().detail[0].msg, /at most 4 items/);
    } finally {
      await app.close();
    }
  });
});
