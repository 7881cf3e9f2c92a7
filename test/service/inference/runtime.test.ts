// The model runtime and repository on the committed models and on folders made here: metadata from the graph,
// one run per call, MODEL_WEIGHTS/MODEL_BIAS written into the graph, config.json settings, and load failures that
// name the file.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DEFAULT_REPOSITORY, findModels, loadModels, parseModelSettings } from '../../../src/service/inference/repository.ts';
import { loadModel, ort, type Model } from '../../../src/service/inference/runtime.ts';

const LINEAR = join(DEFAULT_REPOSITORY, 'simple-linear-demo', '1', 'model.onnx');
const IRIS = join(DEFAULT_REPOSITORY, 'iris-classifier', '1', 'model.onnx');
const noDelay = { simulatedLatencyMs: () => 0 };
const f64 = (rows: number[][]) => new ort.Tensor('float64', Float64Array.from(rows.flat()), [rows.length, rows[0]!.length]);
const tmp = mkdtempSync(join(tmpdir(), 'models-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('loadModel', () => {
  const loaded: Model[] = [];
  after(() => Promise.all(loaded.map((m) => m.release())));
  const load = async (file: string, options: Parameters<typeof loadModel>[4] = noDelay) => {
    const m = await loadModel(file, 'm', '1', {}, options);
    loaded.push(m);
    return m;
  };

  test('reads inputs and outputs, v2 datatypes and -1 for dynamic dimensions from the graph', async () => {
    const linear = await load(LINEAR);
    assert.deepEqual(linear.info.inputs, [{ name: 'input', datatype: 'FP64', shape: [-1, -1] }]);
    assert.deepEqual(linear.info.outputs, [{ name: 'prediction', datatype: 'FP64', shape: [-1] }]);
    assert.equal(linear.info.platform, 'onnxruntime_onnx');
    const iris = await load(IRIS);
    assert.deepEqual(iris.info.inputs, [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }]);
    assert.deepEqual(iris.info.outputs.map((o) => [o.name, o.datatype, o.shape]), [['label', 'INT64', [-1]], ['probabilities', 'FP32', [-1, 3]]]);
  });

  test('the linear graph gives w.x + b summed left to right for any feature count, as the former formula', async () => {
    const linear = await load(LINEAR);
    assert.deepEqual(Array.from((await linear.run({ input: f64([[0.5, 1.5, 2.0]]) })).outputs.prediction!.data as Float64Array), [4]);
    // Left-to-right order matters here: vectorised sums give 0 for the first row.
    const rows = [[1e308, 1e308, -1e308, -1e308], [0.1, 0.2, 0.3, 1e-17]];
    const out = (await linear.run({ input: f64(rows) })).outputs.prediction!.data as Float64Array;
    assert.deepEqual(Array.from(out), rows.map((r) => r.reduce((a, b) => a + b, 0)));
    assert.deepEqual(Array.from((await linear.run({ input: f64([[7]]) })).outputs.prediction!.data as Float64Array), [7]);
  });

  test('MODEL_WEIGHTS and MODEL_BIAS are written into the graph\'s initialisers', async () => {
    const linear = await load(LINEAR, { ...noDelay, initializers: { weights: [2, 0.5, -1], bias: [10] } });
    const out = await linear.run({ input: f64([[1, 2, 3], [0.5, 1.5, 2]]) });
    assert.deepEqual(Array.from(out.outputs.prediction!.data as Float64Array), [10 + 2 + 1 - 3, 10 + 1 + 0.75 - 2]);
  });

  test('the simulated model time is spent once per run and reported', async () => {
    let draws = 0;
    const linear = await load(LINEAR, { simulatedLatencyMs: () => (draws++, 20) });
    const started = performance.now();
    const r = await linear.run({ input: f64([[1], [2], [3]]) });
    assert.equal(r.simulatedLatencyMs, 20);
    assert.equal(draws, 1);
    assert.ok(performance.now() - started >= 19, 'the run waited the simulated time');
  });

  test('a file that is not a model, or an initialiser the graph lacks, fails with one line naming the file', async () => {
    const junk = join(tmp, 'junk.onnx');
    writeFileSync(junk, 'not a model');
    await assert.rejects(load(junk), (err: Error) => err.name === 'ModelLoadError' && err.message.includes(junk) && !err.message.includes('\n'));
    await assert.rejects(load(IRIS, { ...noDelay, initializers: { weights: [1] } }), /cannot load .*iris-classifier.*no initialiser named weights/);
  });
});

describe('the model repository', () => {
  const repo = (name: string, layout: Record<string, string | null>) => {
    const root = join(tmp, name);
    for (const [path, content] of Object.entries(layout)) {
      mkdirSync(join(root, path, '..'), { recursive: true });
      if (content === null) copyFileSync(LINEAR, join(root, path));
      else writeFileSync(join(root, path), content);
    }
    return root;
  };

  test('without MODEL_PATH or MODEL_REPOSITORY it is the shipped models/ folder with both models', () => {
    assert.deepEqual(findModels({ name: 'simple-linear-demo' }).map((s) => [s.name, s.version]), [['iris-classifier', '1'], ['simple-linear-demo', '1']]);
  });

  test('the highest numeric version is served, with config.json read in Triton\'s names', async () => {
    const root = repo('versions', {
      'a/1/model.onnx': null,
      'a/3/model.onnx': null,
      'a/10/model.onnx': null,
      'a/config.json': JSON.stringify({ max_batch_size: 8, dynamic_batching: { max_queue_delay_microseconds: 500, preferred_batch_size: [8, 4] } }),
      'notes.txt': 'a file at the top is ignored',
    });
    const models = await loadModels({ repository: root, name: 'a' }, () => noDelay);
    try {
      assert.equal(models.default.info.version, '10');
      assert.deepEqual(models.default.info.versions, ['10']);
      assert.deepEqual(models.default.settings, { maxBatchSize: 8, maxQueueDelayMicroseconds: 500, preferredBatchSize: [4, 8] });
    } finally {
      await models.release();
    }
  });

  test('MODEL_PATH serves one file under MODEL_NAME', () => {
    assert.deepEqual(findModels({ path: LINEAR, name: 'mine' }).map((s) => [s.name, s.version, s.file]), [['mine', '1', LINEAR]]);
  });

  test('a wrong repository is refused naming the folder, the file or the field', async () => {
    assert.throws(() => findModels({ repository: join(tmp, 'absent'), name: 'x' }), /absent is not a folder \(MODEL_REPOSITORY\)/);
    assert.throws(() => findModels({ repository: repo('empty-version', { 'b/1/readme.txt': '' }), name: 'b' }), /b\/ has no <version>\/model.onnx/);
    assert.throws(() => findModels({ repository: repo('other-name', { 'c/1/model.onnx': null }), name: 'd' }), /MODEL_NAME=d is not in the model repository .* \(it holds c\)/);
    assert.throws(() => findModels({ path: join(tmp, 'none.onnx'), name: 'x' }), /none\.onnx: no such file \(MODEL_PATH\)/);
    const broken = repo('broken', { 'e/1/model.onnx': null, 'f/1/model.onnx': 'garbage' });
    await assert.rejects(loadModels({ repository: broken, name: 'e' }, () => noDelay), (err: Error) => err.message.includes(join(broken, 'f', '1', 'model.onnx')));
  });

  test('config.json is checked field by field', () => {
    assert.deepEqual(parseModelSettings('{}', 'c.json'), {});
    assert.deepEqual(parseModelSettings('{"max_batch_size": 0}', 'c.json'), { maxBatchSize: 1 });
    assert.throws(() => parseModelSettings('{"max_batch_size": -1}', 'c.json'), /c\.json: max_batch_size must be an integer >= 0/);
    assert.throws(() => parseModelSettings('{"instance_group": []}', 'c.json'), /c\.json: unknown field instance_group/);
    assert.throws(() => parseModelSettings('{"dynamic_batching": {"max_queue_delay_microseconds": 1.5}}', 'c.json'), /max_queue_delay_microseconds must be an integer/);
    assert.throws(() => parseModelSettings('max_batch_size: 8', 'c.json'), /c\.json is not valid JSON/);
  });
});
