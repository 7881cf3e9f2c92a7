// The dynamic batcher (src/service/batcher.ts) with the SDK's real Tracer and Meter behind it: when batches start
// (size, delay, free instances), what they hold (one shape, whole requests), what a failure or a departure touches,
// that nothing stays queued after close, and the spans, links and metrics it leaves.
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { MeterProvider, MetricReader, type HistogramMetricData, type SumMetricData } from '@opentelemetry/sdk-metrics';
import { Batcher, type BatcherOptions, type ExecuteBatch } from '../../src/service/batcher.ts';
import { AppError } from '../../src/service/errors.ts';
import { createInstruments, tracerSpans } from '../../src/telemetry/catalogue.ts';

class Reader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/** A promise settled from outside: a model call the test finishes when it wants. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const DEFAULTS: BatcherOptions = { maxBatchSize: 32, maxQueueDelayUs: 0, concurrency: 1, maxQueue: 100 };

/** A batcher over a model that doubles numbers, recording every batch it ran; `hold` makes each call wait for the test. */
function setup(options: Partial<BatcherOptions> = {}, { hold = false, fail }: { hold?: boolean; fail?: (inputs: number[]) => boolean } = {}) {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const tracer = provider.getTracer('batcher-test');
  const reader = new Reader();
  const meter = new MeterProvider({ readers: [reader] }).getMeter('batcher-test');
  const instruments = createInstruments(meter);
  const batches: number[][] = [];
  const gates: ReturnType<typeof deferred<void>>[] = [];
  const execute: ExecuteBatch<number, number> = async (inputs) => {
    batches.push([...inputs]);
    if (hold) {
      const gate = deferred<void>();
      gates.push(gate);
      await gate.promise;
    }
    if (fail?.(inputs)) throw new Error(`model failed on ${inputs.join(',')}`);
    return { outputs: inputs.map((x) => 2 * x), attributes: { 'model.simulated_latency_ms': 0 } };
  };
  const batcher = new Batcher('m', { ...DEFAULTS, ...options }, execute, tracerSpans(tracer), instruments);
  /** A request: its server span, and its submission of `input` (`rows` rows, shape `key`). */
  const submit = (input: number, key = 'k', rows = 1) => {
    const server = tracer.startSpan(`request ${input}`, { kind: SpanKind.SERVER });
    const parent: Context = trace.setSpan(ROOT_CONTEXT, server);
    const attributes = { 'model.name': 'm', 'model.batch_size': rows, 'model.feature_count': Number(key) || 1 };
    const handle = batcher.submit({ input, rows, key, attributes, parent });
    // Ends the server span once answered, as the HTTP hooks do; the outcome stays observable through `done`.
    const done = handle.done.finally(() => server.end());
    done.catch(() => {});
    return { ...handle, done, server };
  };
  const metric = async (name: string) => {
    const { resourceMetrics } = await reader.collect();
    return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
  };
  return { batcher, batches, gates, submit, exporter, metric };
}

describe('when a batch starts', () => {
  test('a batch starts as soon as it holds MAX_BATCH_SIZE rows, however long the delay', async () => {
    const { batches, submit } = setup({ maxBatchSize: 4, maxQueueDelayUs: 60_000_000 });
    const requests = [1, 2, 3].map((x) => submit(x));
    await tick();
    assert.equal(batches.length, 0, 'three rows wait for a fourth');
    requests.push(submit(4));
    const outputs = await Promise.all(requests.map((r) => r.done));
    assert.deepEqual(batches, [[1, 2, 3, 4]]);
    assert.deepEqual(outputs.map((o) => o.output), [2, 4, 6, 8], 'each request gets its own output');
  });

  test('a partial batch starts once its oldest request has waited MAX_QUEUE_DELAY_US', async () => {
    const { batcher, batches, submit } = setup({ maxBatchSize: 32, maxQueueDelayUs: 30_000 });
    const requests = [1, 2, 3].map((x) => submit(x));
    await tick();
    assert.equal(batches.length, 0);
    assert.equal(batcher.queued, 3);
    const served = await Promise.all(requests.map((r) => r.done));
    assert.deepEqual(batches, [[1, 2, 3]]);
    assert.ok(served[0]!.queueMs >= 29, `the oldest waited the delay (${served[0]!.queueMs} ms)`);
    assert.equal(batcher.queued, 0);
  });

  test('with no delay an idle instance takes a request at once, and requests arriving meanwhile share the next batch', async () => {
    const { batcher, batches, gates, submit } = setup({ maxBatchSize: 32, concurrency: 1 }, { hold: true });
    const first = submit(1);
    assert.deepEqual(batches, [[1]], 'started at submission');
    const rest = [2, 3, 4].map((x) => submit(x));
    assert.equal(batcher.queued, 3);
    assert.equal(batcher.inFlight, 1);
    gates[0]!.resolve();
    await first.done;
    await until(() => gates.length === 2, 'the second batch');
    assert.deepEqual(batches, [[1], [2, 3, 4]]);
    gates[1]!.resolve();
    assert.deepEqual((await Promise.all(rest.map((r) => r.done))).map((s) => s.output), [4, 6, 8]);
  });

  test('a queue reaching a preferred batch size starts a batch of the largest such size without waiting for the delay', async () => {
    const { batcher, batches, gates, submit } = setup({ maxBatchSize: 8, maxQueueDelayUs: 60_000_000, concurrency: 1, preferredBatchSizes: [2, 3] }, { hold: true });
    const one = submit(1);
    await tick();
    assert.deepEqual(batches, [], 'one row: no preferred size yet');
    submit(2);
    assert.deepEqual(batches, [[1, 2]], 'two rows: the smallest preferred size, at once');
    const queued = [3, 4, 5, 6].map((x) => submit(x));
    gates[0]!.resolve();
    await one.done;
    await until(() => batches.length === 2, 'the next batch');
    assert.deepEqual(batches[1], [3, 4, 5], 'four rows queued: a batch of three, the largest preferred size');
    assert.equal(batcher.queued, 1, 'the fourth waits for more');
    gates[1]!.resolve();
    await Promise.all(queued.slice(0, 3).map((r) => r.done));
    const closing = batcher.close();
    await until(() => gates.length === 3, 'the last batch on close');
    gates[2]!.resolve();
    await closing;
    assert.deepEqual(batches, [[1, 2], [3, 4, 5], [6]]);
  });

  test('MODEL_CONCURRENCY batches execute at once, and past MAX_QUEUE waiting requests one is refused at once', async () => {
    const { batcher, batches, gates, submit } = setup({ maxBatchSize: 1, concurrency: 2, maxQueue: 2 }, { hold: true });
    const admitted = [1, 2, 3, 4].map((x) => submit(x));
    assert.equal(batcher.batchesRunning, 2);
    assert.equal(batcher.inFlight, 2);
    assert.equal(batcher.queued, 2);
    assert.throws(() => submit(5), (err: unknown) => err instanceof AppError && err.code === 'ERR_OVERLOADED');
    assert.equal(batcher.rejected, 1);
    gates[0]!.resolve();
    await until(() => batches.length === 3, 'a freed instance takes the next request');
    assert.equal(batcher.batchesRunning, 2);
    for (let i = 1; i < 4; i++) {
      await until(() => gates.length > i, `batch ${i + 1}`);
      gates[i]!.resolve();
    }
    await Promise.all(admitted.map((r) => r.done));
    assert.deepEqual(batches, [[1], [2], [3], [4]], 'MAX_BATCH_SIZE=1: one request per batch');
    assert.equal(batcher.inFlight + batcher.queued + batcher.batchesRunning, 0);
  });
});

describe('what a batch holds', () => {
  test('requests of different shapes never share a batch', async () => {
    const { batches, submit } = setup({ maxQueueDelayUs: 20_000, concurrency: 4 });
    const requests = [submit(1, '2'), submit(2, '3'), submit(3, '2'), submit(4, '3'), submit(5, '2')];
    await Promise.all(requests.map((r) => r.done));
    assert.deepEqual([...batches].sort((a, b) => a[0]! - b[0]!), [[1, 3, 5], [2, 4]]);
  });

  test('a request of several rows takes that many slots and rides whole, never split across batches', async () => {
    const { batches, submit } = setup({ maxBatchSize: 4, maxQueueDelayUs: 20_000, concurrency: 1 }, {});
    const requests = [submit(1, 'k', 3), submit(2, 'k', 2), submit(3, 'k', 1)];
    await Promise.all(requests.map((r) => r.done));
    assert.deepEqual(batches, [[1], [2, 3]], '3 rows, then 2 + 1 rows');
  });
});

describe('failures, departures and shutdown', () => {
  test('a failing model call fails only the requests of its batch, counted as predictions_by_model errors', async () => {
    const { batches, submit, exporter, metric } = setup({ maxBatchSize: 2, concurrency: 2 }, { fail: (inputs) => inputs.includes(3) });
    const requests = [1, 2, 3, 4].map((x) => submit(x));
    const outcomes = await Promise.allSettled(requests.map((r) => r.done));
    assert.deepEqual(batches, [[1], [2], [3, 4]], 'two idle instances take 1 and 2, then 3 and 4 share a batch');
    assert.deepEqual(outcomes.slice(0, 2), [{ status: 'fulfilled', value: { output: 2, queueMs: (outcomes[0] as PromiseFulfilledResult<{ queueMs: number }>).value.queueMs } }, { status: 'fulfilled', value: { output: 4, queueMs: (outcomes[1] as PromiseFulfilledResult<{ queueMs: number }>).value.queueMs } }]);
    for (const o of outcomes.slice(2)) {
      assert.equal(o.status, 'rejected');
      assert.match(String((o as PromiseRejectedResult).reason), /model failed on 3,4/);
    }
    const failedSpans = exporter.getFinishedSpans().filter((s) => s.status.code === SpanStatusCode.ERROR);
    assert.deepEqual(new Set(failedSpans.map((s) => s.name)), new Set(['batch', 'inference']));
    assert.equal(failedSpans.filter((s) => s.name === 'batch').length, 1);
    const byModel = (await metric('predictions_by_model')) as SumMetricData;
    const rows = Object.fromEntries(byModel.dataPoints.map((p) => [`${p.attributes['model.name']} ${p.attributes.outcome}`, p.value]));
    assert.deepEqual(rows, { 'm success': 2, 'm error': 2 });
  });

  test('a request whose client went away leaves the queue and never runs; the others still do', async () => {
    const { batcher, batches, submit, exporter } = setup({ maxQueueDelayUs: 60_000_000, maxBatchSize: 3 });
    const gone = submit(1);
    const stays = submit(2);
    gone.cancel();
    await assert.rejects(gone.done, (err: unknown) => err instanceof AppError && err.code === 'ERR_CLIENT_CLOSED');
    assert.equal(batcher.queued, 1);
    const [a, b] = [submit(3), submit(4)];
    await Promise.all([stays.done, a.done, b.done]);
    assert.deepEqual(batches, [[2, 3, 4]]);
    assert.equal(batcher.queued, 0);
    const queueOfGone = exporter.getFinishedSpans().find((s) => s.name === 'queue' && s.parentSpanContext?.spanId === gone.server.spanContext().spanId);
    assert.equal(queueOfGone?.status.code, SpanStatusCode.ERROR);
  });

  test('close runs what is queued at once instead of waiting for the delay, and resolves when nothing is left', async () => {
    const { batcher, batches, submit, metric } = setup({ maxQueueDelayUs: 60_000_000, concurrency: 1 });
    const requests = [1, 2, 3].map((x) => submit(x));
    await tick();
    assert.equal(batches.length, 0);
    await batcher.close();
    assert.deepEqual((await Promise.all(requests.map((r) => r.done))).map((s) => s.output), [2, 4, 6]);
    assert.equal(batcher.queued + batcher.inFlight, 0);
    const pending = (await metric('model_pending_requests')) as SumMetricData;
    assert.equal(pending.dataPoints[0]!.value, 0, 'the pending gauge is back to zero');
  });

  test('requests still queued when close gives up on a stuck model are refused with ERR_SHUTTING_DOWN, none left behind', async () => {
    const { batcher, gates, submit } = setup({ maxBatchSize: 1, concurrency: 1 }, { hold: true });
    const stuck = submit(1);
    const waiting = [2, 3].map((x) => submit(x));
    await batcher.close(50);
    for (const w of waiting) await assert.rejects(w.done, (err: unknown) => err instanceof AppError && err.code === 'ERR_SHUTTING_DOWN');
    assert.equal(batcher.queued, 0);
    gates[0]!.resolve();
    assert.equal((await stuck.done).output, 2);
  });
});

describe('telemetry', () => {
  test('one batch span per batch, linked to every request it served, each request linked back, its spans in its own trace', async () => {
    const { submit, exporter } = setup({ maxBatchSize: 3, maxQueueDelayUs: 20_000 });
    const requests = [1, 2, 3, 4].map((x) => submit(x));
    await Promise.all(requests.map((r) => r.done));
    const spans = exporter.getFinishedSpans();
    const batchSpans = spans.filter((s) => s.name === 'batch');
    assert.equal(batchSpans.length, 2);
    assert.deepEqual(batchSpans.map((b) => [b.attributes['model.batch_size'], b.attributes['model.batch.requests']]).sort(), [[1, 1], [3, 3]]);
    for (const b of batchSpans) {
      assert.equal(b.parentSpanContext, undefined, 'a root span');
      assert.equal(b.kind, SpanKind.INTERNAL);
      assert.equal(b.attributes['model.name'], 'm');
      assert.equal(b.attributes['model.simulated_latency_ms'], 0, 'the model call adds its attributes');
    }
    for (const [i, r] of requests.entries()) {
      const server = spans.find((s) => s.spanContext().spanId === r.server.spanContext().spanId)!;
      assert.equal(server.links.length, 1, 'the request span links to one batch');
      const batch = batchSpans.find((b) => b.spanContext().spanId === server.links[0]!.context.spanId)!;
      assert.ok(batch, 'to an exported batch span');
      assert.ok(batch.links.some((l) => l.context.spanId === server.spanContext().spanId && l.context.traceId === server.spanContext().traceId), 'which links back');
      const children = spans.filter((s) => s.parentSpanContext?.spanId === server.spanContext().spanId).map((s) => s.name).sort();
      // The third request filled the first batch, which started at once: it never waited.
      assert.deepEqual(children, i === 2 ? ['inference'] : ['inference', 'queue'], `request ${i + 1}: its wait, then its ride in the batch`);
    }
  });

  test('a request an idle instance takes at once has no queue span', async () => {
    const { submit, exporter } = setup();
    const r = submit(1);
    await r.done;
    const children = exporter.getFinishedSpans().filter((s) => s.parentSpanContext?.spanId === r.server.spanContext().spanId);
    assert.deepEqual(children.map((s) => s.name), ['inference']);
  });

  test('queue time per request, compute time, rows and executions per batch, and inferences vs executions', async () => {
    const { submit, metric } = setup({ maxBatchSize: 3, maxQueueDelayUs: 20_000 });
    const requests = [submit(1, 'k', 2), submit(2, 'k', 1), submit(3, 'k', 2)];
    await Promise.all(requests.map((r) => r.done));
    const queue = (await metric('model_queue_duration_ms')) as HistogramMetricData;
    assert.equal(queue.dataPoints[0]!.value.count, 3, 'one queue time per request');
    assert.deepEqual(queue.dataPoints[0]!.attributes, { 'model.name': 'm' });
    const compute = (await metric('model_compute_duration_ms')) as HistogramMetricData;
    assert.equal(compute.dataPoints[0]!.value.count, 2, 'one compute time per batch');
    const size = (await metric('model_batch_size')) as HistogramMetricData;
    assert.equal(size.dataPoints[0]!.value.count, 2);
    assert.equal(size.dataPoints[0]!.value.sum, 5, 'rows: 2 + 1, then 2');
    const executions = (await metric('model_executions_total')) as SumMetricData;
    assert.equal(executions.dataPoints[0]!.value, 2);
  });
});
