// The batcher in front of Model.run (src/service/batched-model.ts): requests' tensors joined along the batch
// dimension for one run and every output cut back per request, for float, integer and boolean tensors; a model
// whose output is not per row fails only the batch that needed cutting; settings from config.json win.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { metrics, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { batchOptions, modelBatcher, shapeKey } from '../../src/service/batched-model.ts';
import { ort, type Feeds, type Model, type ModelSettings } from '../../src/service/inference/runtime.ts';
import { parseConfig } from '../../src/shared/config.ts';
import { createInstruments, tracerSpans } from '../../src/telemetry/catalogue.ts';

const config = parseConfig({ MAX_BATCH_SIZE: '16', MAX_QUEUE_DELAY_US: '20000' }, '1.0.0').model;
const spans = tracerSpans(trace.getTracer('batched-model-test'));
const instruments = createInstruments(metrics.getMeter('batched-model-test'));

/** A model in plain code: per row, x*2 (FP32 [n, 2]), x[0] > 0 (BOOL [n]), the row's id (INT64 [n]); and a scalar total when asked. */
function model(runs: number[], { scalar = false, settings = {}, firstDim = -1 }: { scalar?: boolean; settings?: ModelSettings; firstDim?: number } = {}): Model {
  return {
    info: { name: 'm', version: '1', versions: ['1'], platform: 'onnxruntime_onnx', file: 'm.onnx', inputs: [{ name: 'x', datatype: 'FP32', shape: [firstDim, 2] }, { name: 'id', datatype: 'INT64', shape: [firstDim] }], outputs: [] },
    settings,
    async run(feeds: Feeds) {
      const x = feeds.x!.data as Float32Array;
      const id = feeds.id!.data as BigInt64Array;
      const n = feeds.x!.dims[0]!;
      runs.push(n);
      const outputs: Record<string, ort.Tensor> = {
        doubled: new ort.Tensor('float32', x.map((v) => v * 2), [n, 2]),
        positive: new ort.Tensor('bool', Uint8Array.from({ length: n }, (_, i) => (x[i * 2]! > 0 ? 1 : 0)), [n]),
        id: new ort.Tensor('int64', BigInt64Array.from(id), [n]),
      };
      if (scalar) outputs.total = new ort.Tensor('float32', Float32Array.of(x.reduce((a, b) => a + b, 0)), [1]);
      return { outputs, simulatedLatencyMs: 0 };
    },
    release: async () => {},
  };
}

const feeds = (rows: number[][], ids: number[]): Feeds => ({
  x: new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, 2]),
  id: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [ids.length]),
});
const submit = (b: ReturnType<typeof modelBatcher>, f: Feeds) =>
  b.submit({ input: f, rows: f.x!.dims[0]!, key: shapeKey(f, f.x!.dims[0]!), attributes: {}, parent: ROOT_CONTEXT }).done;

describe('the batcher in front of model.run', () => {
  test("requests' tensors run as one and each request gets back exactly its own rows of every output", async () => {
    const runs: number[] = [];
    const b = modelBatcher(model(runs), config, spans, instruments);
    const [a, c] = await Promise.all([submit(b, feeds([[1, 2]], [7])), submit(b, feeds([[-3, 4], [5, 6]], [8, 9]))]);
    assert.deepEqual(runs, [3], 'one run of three rows');
    assert.deepEqual([...(a.output.doubled!.data as Float32Array)], [2, 4]);
    assert.deepEqual(a.output.doubled!.dims, [1, 2]);
    assert.deepEqual([...(c.output.doubled!.data as Float32Array)], [-6, 8, 10, 12]);
    assert.deepEqual(c.output.doubled!.dims, [2, 2]);
    assert.deepEqual([...(a.output.positive!.data as Uint8Array)], [1]);
    assert.deepEqual([...(c.output.positive!.data as Uint8Array)], [0, 1]);
    assert.equal(c.output.positive!.type, 'bool');
    assert.deepEqual([...(c.output.id!.data as BigInt64Array)], [8n, 9n]);
  });

  test('an output that is not one row per input row fails the batch that had to be cut, not a request that ran alone', async () => {
    const runs: number[] = [];
    const b = modelBatcher(model(runs, { scalar: true }), config, spans, instruments);
    const both = await Promise.allSettled([submit(b, feeds([[1, 2]], [1])), submit(b, feeds([[3, 4]], [2]))]);
    for (const r of both) assert.match(String((r as PromiseRejectedResult).reason), /output total has 1 rows for a batch of 2/);
    const alone = await submit(b, feeds([[3, 4]], [2]));
    assert.deepEqual([...(alone.output.total!.data as Float32Array)], [7]);
  });

  test("requests of other per-row shapes, or whose inputs disagree on the batch size, never share a run", () => {
    const two = feeds([[1, 2]], [1]);
    const three: Feeds = { x: new ort.Tensor('float32', Float32Array.of(1, 2, 3), [1, 3]), id: two.id! };
    assert.equal(shapeKey(two, 1), shapeKey(feeds([[5, 6], [7, 8]], [1, 2]), 2), 'the batch size is not part of the shape');
    assert.notEqual(shapeKey(two, 1), shapeKey(three, 1));
    const mismatched: Feeds = { x: two.x!, id: new ort.Tensor('int64', BigInt64Array.of(1n, 2n), [2]) };
    assert.notEqual(shapeKey(mismatched, 1), shapeKey(mismatched, 1), 'each such request runs alone');
  });

  test("config.json's settings win over the variables, and a graph with a fixed first dimension is never batched", () => {
    const settings = { maxBatchSize: 4, maxQueueDelayMicroseconds: 500, preferredBatchSize: [2, 4] };
    assert.deepEqual(batchOptions(model([], { settings }), config), { maxBatchSize: 4, maxQueueDelayUs: 500, preferredBatchSizes: [2, 4], concurrency: config.concurrency, maxQueue: config.maxQueue });
    assert.deepEqual(batchOptions(model([]), config), { maxBatchSize: 16, maxQueueDelayUs: 20_000, preferredBatchSizes: [], concurrency: config.concurrency, maxQueue: config.maxQueue });
    assert.equal(batchOptions(model([], { firstDim: 1 }), config).maxBatchSize, 1);
  });
});
