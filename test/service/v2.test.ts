// Open Inference Protocol v2 over real HTTP: the committed models end to end (the iris classifier's accuracy on rows
// it never saw), the specification's own example request, every bad input answered 4xx with {"error"}, and the same
// spans as /predict.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { TracerProvider, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { buildApp } from '../../src/service/app.ts';
import { parseInferRequest } from '../../src/service/v2.ts';
import type { Model } from '../../src/service/inference/runtime.ts';
import { parseConfig } from '../../src/shared/config.ts';
import { tracerSpans } from '../../src/telemetry/catalogue.ts';
import { appDeps } from '../helpers/app-deps.ts';
import { useGlobalTracing } from '../helpers/global-tracing.ts';
import { ROOT } from '../helpers/service.ts';

const FIXTURES = join(ROOT, 'test', 'fixtures');
const heldout = JSON.parse(readFileSync(join(FIXTURES, 'iris-heldout.json'), 'utf8')) as { rows: number[][]; labels: number[]; sklearn_accuracy: number };

const ended: ReadableSpan[] = [];
const keep: SpanProcessor = { onStart: () => {}, onEnd: (s) => void ended.push(s), forceFlush: async () => {}, shutdown: async () => {} };
const provider = new TracerProvider({ spanProcessors: [keep] });
useGlobalTracing(provider);

/** The app listening on a free loopback port, with a real tracer. */
async function serve(env: Record<string, string> = {}) {
  const config = parseConfig({ DEFAULT_LATENCY_MS: '0', BODY_LIMIT_BYTES: String(64 * 1024), ...env }, '1.2.3');
  const { app, lifecycle } = buildApp(config, appDeps({ spans: tracerSpans(provider.getTracer('v2-test')) }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  lifecycle.ready = true;
  const { port } = app.server.address() as { port: number };
  const base = `http://127.0.0.1:${port}`;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(base + path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text === '' ? undefined : (JSON.parse(text) as Record<string, any>) };
  };
  return { app, call };
}

describe('the committed models over v2', () => {
  let svc: Awaited<ReturnType<typeof serve>>;
  before(async () => (svc = await serve()));
  after(() => svc.app.close());

  test('server metadata, liveness and readiness answer as the specification shows', async () => {
    assert.deepEqual((await svc.call('GET', '/v2')).body, { name: 'ai-inference-service', version: '1.2.3', extensions: [] });
    assert.deepEqual(await svc.call('GET', '/v2/health/live').then((r) => [r.status, r.body]), [200, { live: true }]);
    assert.deepEqual(await svc.call('GET', '/v2/health/ready').then((r) => [r.status, r.body]), [200, { ready: true }]);
  });

  test('model metadata comes from the graph, with or without the version in the path', async () => {
    const iris = await svc.call('GET', '/v2/models/iris-classifier');
    assert.equal(iris.status, 200);
    assert.deepEqual(iris.body, {
      name: 'iris-classifier',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
      outputs: [{ name: 'label', datatype: 'INT64', shape: [-1] }, { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] }],
    });
    assert.deepEqual((await svc.call('GET', '/v2/models/iris-classifier/versions/1')).body, iris.body);
    assert.deepEqual((await svc.call('GET', '/v2/models/simple-linear-demo/ready')).body, { name: 'simple-linear-demo', ready: true });
    assert.deepEqual((await svc.call('GET', '/v2/models/simple-linear-demo/versions/1/ready')).body, { name: 'simple-linear-demo', ready: true });
  });

  test('the iris classifier labels the held-out rows as accurately as scikit-learn did', async () => {
    const res = await svc.call('POST', '/v2/models/iris-classifier/infer', {
      id: 'heldout',
      inputs: [{ name: 'input', shape: [heldout.rows.length, 4], datatype: 'FP32', data: heldout.rows }],
      outputs: [{ name: 'label' }],
    });
    assert.equal(res.status, 200);
    assert.equal(res.body!.id, 'heldout');
    assert.equal(res.body!.model_name, 'iris-classifier');
    assert.equal(res.body!.model_version, '1');
    const [label] = res.body!.outputs as { name: string; datatype: string; shape: number[]; data: number[] }[];
    assert.deepEqual([label!.name, label!.datatype, label!.shape], ['label', 'INT64', [heldout.rows.length]]);
    const accuracy = label!.data.filter((l, i) => l === heldout.labels[i]).length / heldout.labels.length;
    assert.ok(accuracy >= 0.9, `accuracy ${accuracy}`);
    assert.equal(accuracy, heldout.sklearn_accuracy);
  });

  test('probabilities come back as a nested row-major FP32 tensor, one row per input row summing to 1', async () => {
    const res = await svc.call('POST', '/v2/models/iris-classifier/infer', { inputs: [{ name: 'input', shape: [2, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3] }] });
    const probabilities = res.body!.outputs[1];
    assert.deepEqual([probabilities.shape, probabilities.data.length], [[2, 3], 6]);
    assert.ok(Math.abs(probabilities.data.slice(0, 3).reduce((a: number, b: number) => a + b) - 1) < 1e-6);
    assert.deepEqual(res.body!.outputs[0].data, [0, 2]);
  });

  test('the linear model answers as /predict does, flat or nested data', async () => {
    const flat = await svc.call('POST', '/v2/models/simple-linear-demo/infer', { inputs: [{ name: 'input', shape: [2, 3], datatype: 'FP64', data: [0.5, 1.5, 2.0, 1, 2, 3] }] });
    assert.deepEqual(flat.body!.outputs, [{ name: 'prediction', datatype: 'FP64', shape: [2], data: [4, 6] }]);
    const nested = await svc.call('POST', '/v2/models/simple-linear-demo/infer', { inputs: [{ name: 'input', shape: [2, 3], datatype: 'FP64', data: [[0.5, 1.5, 2.0], [1, 2, 3]] }] });
    assert.deepEqual(nested.body!.outputs, flat.body!.outputs);
    assert.equal((await svc.call('POST', '/predict', { features: [0.5, 1.5, 2.0] })).body!.prediction, 4);
  });

  test('an infer request is traced like /predict: server span with the route, three stages, traceresponse, no trace id in the body', async () => {
    ended.length = 0;
    const res = await svc.call('POST', '/v2/models/iris-classifier/infer', { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }] });
    assert.equal(res.status, 200);
    assert.ok(!('trace_id' in res.body!));
    const traceId = /^00-([0-9a-f]{32})-[0-9a-f]{16}-0[01]$/.exec(res.headers.get('traceresponse') ?? '')?.[1];
    assert.ok(traceId, 'traceresponse header');
    const spans = () => ended.filter((s) => s.spanContext().traceId === traceId);
    for (let i = 0; i < 100 && spans().length < 4; i++) await new Promise((r) => setTimeout(r, 10));
    const server = spans().find((s) => s.name === 'POST /v2/models/:name/infer');
    assert.ok(server, `server span among ${spans().map((s) => s.name).join(', ')}`);
    assert.equal(server.attributes['http.route'], '/v2/models/:name/infer');
    const stages = spans().filter((s) => s.parentSpanContext?.spanId === server.spanContext().spanId);
    assert.deepEqual(stages.map((s) => s.name).sort(), ['inference', 'postprocess', 'preprocess']);
    for (const s of stages) assert.deepEqual([s.attributes['model.name'], s.attributes['model.batch_size'], s.attributes['model.feature_count']], ['iris-classifier', 1, 4]);
  });

  const cases: [string, string, unknown, number, RegExp][] = [
    ['an unknown model', '/v2/models/nope/infer', { inputs: [] }, 404, /model "nope" is not found/],
    ['an unknown version', '/v2/models/iris-classifier/versions/7/infer', { inputs: [] }, 404, /has no version "7"/],
    ['a body that is not an object', '/v2/models/iris-classifier/infer', [1], 400, /must be a JSON object/],
    ['no inputs', '/v2/models/iris-classifier/infer', { inputs: [] }, 400, /inputs must be a non-empty array/],
    ['an unknown input name', '/v2/models/iris-classifier/infer', { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] }, 400, /unexpected inference input "x" .* its inputs: input/],
    ['a wrong datatype', '/v2/models/iris-classifier/infer', { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP64', data: [1, 2, 3, 4] }] }, 400, /datatype "FP64" does not match the model's FP32/],
    ['a wrong shape', '/v2/models/iris-classifier/infer', { inputs: [{ name: 'input', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] }, 400, /shape \[1,3\] does not match the model's \[-1,4\]/],
    ['a wrong rank', '/v2/models/iris-classifier/infer', { inputs: [{ name: 'input', shape: [4], datatype: 'FP32', data: [1, 2, 3, 4] }] }, 400, /does not match the model's/],
    ['data shorter than the shape', '/v2/models/iris-classifier/infer', { inputs: [{ name: 'input', shape: [2, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] }, 400, /shape \[2,4\] needs 8 elements, data has 4/],
    ['a huge shape with little data', '/v2/models/simple-linear-demo/infer', { inputs: [{ name: 'input', shape: [1e15, 1], datatype: 'FP64', data: [1] }] }, 400, /needs 1000000000000000 elements, data has 1/],
    ['a zero dimension', '/v2/models/simple-linear-demo/infer', { inputs: [{ name: 'input', shape: [0, 3], datatype: 'FP64', data: [] }] }, 400, /shape must be an array of integers >= 1/],
    ['nesting that does not match the shape', '/v2/models/iris-classifier/infer', { inputs: [{ name: 'input', shape: [2, 4], datatype: 'FP32', data: [[1, 2, 3, 4, 5, 6], [7, 8]] }] }, 400, /nested data does not match its shape/],
    ['a string where a number belongs', '/v2/models/iris-classifier/infer', { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [1, '2', 3, 4] }] }, 400, /data\[1\] is not a number \(FP32\)/],
    ['an unknown output', '/v2/models/iris-classifier/infer', { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }], outputs: [{ name: 'logits' }] }, 400, /unexpected inference output "logits"/],
    ['an id that is not a string', '/v2/models/iris-classifier/infer', { id: 42, inputs: [] }, 400, /id must be a string/],
    ['parameters that are not key/values', '/v2/models/iris-classifier/infer', { parameters: { a: [1] }, inputs: [] }, 400, /parameters must be an object/],
    ['malformed JSON', '/v2/models/iris-classifier/infer', '{"inputs": [', 400, /not valid JSON/],
    ['a body past BODY_LIMIT_BYTES', '/v2/models/simple-linear-demo/infer', { inputs: [{ name: 'input', shape: [1, 20000], datatype: 'FP64', data: Array(20000).fill(0.123456) }] }, 413, /larger than BODY_LIMIT_BYTES/],
  ];
  for (const [what, path, body, status, message] of cases) {
    test(`${what} is answered ${status} with the v2 error object`, async () => {
      const res = await svc.call('POST', path, body);
      assert.equal(res.status, status);
      assert.deepEqual(Object.keys(res.body!), ['error']);
      assert.match(res.body!.error, message);
      assert.match(res.headers.get('traceresponse') ?? '', /^00-[0-9a-f]{32}-/);
    });
  }

  test('any infer body, valid or not, is answered 200 or 4xx with the v2 error object, never 5xx', async () => {
    const dim = fc.oneof(fc.integer({ min: -2, max: 6 }), fc.constantFrom(1e15, 2 ** 53, 1.5, '2', null));
    const element = fc.oneof(fc.double({ noNaN: true }), fc.integer(), fc.boolean(), fc.constantFrom(null, '1', [1], {}));
    const tensor = fc.record(
      {
        name: fc.constantFrom('input', 'x', '__proto__', ''),
        shape: fc.oneof(fc.array(dim, { maxLength: 3 }), fc.constant('1,4')),
        datatype: fc.constantFrom('FP32', 'FP64', 'INT64', 'BOOL', 'BYTES', 'fp32', 7),
        data: fc.oneof(fc.array(element, { maxLength: 12 }), fc.array(fc.array(element, { maxLength: 5 }), { maxLength: 4 }), element),
        parameters: fc.oneof(fc.constant(undefined), fc.dictionary(fc.string(), fc.jsonValue())),
      },
      { requiredKeys: ['name', 'shape', 'datatype', 'data'] },
    );
    const body = fc.oneof(
      { weight: 4, arbitrary: fc.record({ id: fc.oneof(fc.string(), fc.integer()), inputs: fc.array(tensor, { maxLength: 3 }), outputs: fc.array(fc.record({ name: fc.constantFrom('label', 'prediction', 'probabilities', 'nope') }), { maxLength: 2 }) }, { requiredKeys: ['inputs'] }) },
      { weight: 1, arbitrary: fc.jsonValue() },
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('iris-classifier', 'simple-linear-demo', 'nope'), body, async (name, b) => {
        const res = await svc.call('POST', `/v2/models/${name}/infer`, JSON.stringify(b));
        if (res.status === 200) return assert.ok(Array.isArray(res.body!.outputs));
        assert.ok(res.status >= 400 && res.status < 500, `${res.status} ${JSON.stringify(res.body)} for ${JSON.stringify(b)}`);
        assert.deepEqual(Object.keys(res.body!), ['error']);
      }),
      { numRuns: 300 },
    );
  });

  test('an unknown v2 path is a v2 404 and a GET of infer is a 404 too, never a 5xx', async () => {
    assert.deepEqual(await svc.call('GET', '/v2/nothing').then((r) => [r.status, r.body]), [404, { error: 'Not Found' }]);
    assert.equal((await svc.call('GET', '/v2/models/iris-classifier/infer')).status, 404);
  });
});

describe('the specification\'s example request', () => {
  let svc: Awaited<ReturnType<typeof serve>>;
  before(async () => (svc = await serve({ MODEL_PATH: join(FIXTURES, 'spec-example.onnx'), MODEL_NAME: 'mymodel' })));
  after(() => svc.app.close());
  // inference_rest.md, "Inference Request Examples", verbatim: input1 has shape [3] but one element.
  const example = {
    id: '42',
    inputs: [
      { name: 'input0', shape: [2, 2], datatype: 'UINT32', data: [1, 2, 3, 4] },
      { name: 'input1', shape: [3], datatype: 'BOOL', data: [true] },
    ],
    outputs: [{ name: 'output0' }],
  };

  test('as written it is refused: its BOOL input has one element for a shape of three', async () => {
    const res = await svc.call('POST', '/v2/models/mymodel/infer', example);
    assert.deepEqual([res.status, res.body], [400, { error: 'input "input1": shape [3] needs 3 elements, data has 1' }]);
  });

  test('with three BOOL elements it gets the example\'s answer: id 42 and only output0, FP32 [3, 2]', async () => {
    const res = await svc.call('POST', '/v2/models/mymodel/infer', { ...example, inputs: [example.inputs[0], { ...example.inputs[1], data: [true, false, true] }] });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { model_name: 'mymodel', model_version: '1', id: '42', outputs: [{ name: 'output0', shape: [3, 2], datatype: 'FP32', data: [1, 2, 3, 4, 1, 0] }] });
    const both = await svc.call('POST', '/v2/models/mymodel/infer', { inputs: [example.inputs[0], { ...example.inputs[1], data: [true, false, true] }] });
    assert.deepEqual(both.body!.outputs[1], { name: 'output1', datatype: 'BOOL', shape: [3], data: [false, true, false] });
  });

  test('a missing input, a negative UINT32 and a number for a BOOL are 400s', async () => {
    const only0 = await svc.call('POST', '/v2/models/mymodel/infer', { inputs: [example.inputs[0]] });
    assert.deepEqual([only0.status, only0.body], [400, { error: 'model "mymodel" needs the input "input1"' }]);
    const negative = await svc.call('POST', '/v2/models/mymodel/infer', { inputs: [{ ...example.inputs[0], data: [1, -2, 3, 4] }, example.inputs[1]] });
    assert.match(negative.body!.error, /data\[1\] is not an integer from 0 to 4294967295 \(UINT32\)/);
    const bools = await svc.call('POST', '/v2/models/mymodel/infer', { inputs: [example.inputs[0], { ...example.inputs[1], data: [1, 0, 1] }] });
    assert.match(bools.body!.error, /data\[0\] is not a boolean \(BOOL\)/);
  });

  test('/predict says why it cannot serve this model and where to go instead', async () => {
    const res = await svc.call('POST', '/predict', { features: [1] });
    assert.equal(res.status, 404);
    assert.equal(res.body!.code, 'ERR_PREDICT_UNAVAILABLE');
    assert.match(res.body!.detail, /model mymodel cannot serve \/predict .* 2 inputs.*use POST \/v2\/models\/mymodel\/infer/);
  });
});

describe('integer and float datatypes', () => {
  const model = (datatype: string) => ({ info: { name: 'm', inputs: [{ name: 'x', datatype, shape: [-1] }], outputs: [{ name: 'y', datatype, shape: [-1] }] } }) as unknown as Model;
  const parse = (datatype: string, data: unknown[]) => parseInferRequest({ inputs: [{ name: 'x', shape: [data.length], datatype, data }] }, model(datatype)).inputs[0]!.data;

  test('each datatype becomes the typed array onnxruntime expects', () => {
    assert.deepEqual(parse('INT32', [1, -2]), Int32Array.from([1, -2]));
    assert.deepEqual(parse('INT64', [2 ** 40, -3]), BigInt64Array.from([2n ** 40n, -3n]));
    assert.deepEqual(parse('FP32', [0.5]), Float32Array.from([0.5]));
    assert.deepEqual(parse('FP64', [0.1]), Float64Array.from([0.1]));
    assert.deepEqual(parse('BOOL', [true, false]), Uint8Array.from([1, 0]));
    assert.deepEqual(parse('UINT8', [255]), Uint8Array.from([255]));
  });

  test('values outside a datatype\'s range or not integers are refused with the range', () => {
    assert.throws(() => parse('INT8', [128]), /an integer from -128 to 127 \(INT8\)/);
    assert.throws(() => parse('INT32', [1.5]), /INT32/);
    assert.throws(() => parse('INT64', [2 ** 60]), /INT64/);
    assert.throws(() => parse('FP16', [1]), /FP16 cannot be sent as JSON here/);
  });
});
