// The committed linear model is exactly what its script makes. CI needs no Python (the .onnx file is committed);
// where python3 with onnx and onnxruntime is missing, the test says so and skips.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../helpers/service.ts';

const python = spawnSync('python3', ['-c', 'import onnx, onnxruntime, numpy'], { stdio: 'ignore' }).status === 0;

test('scripts/models/simple_linear_demo.py makes the committed model byte for byte', { skip: python ? false : 'python3 with onnx, onnxruntime and numpy is not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'linear-'));
  try {
    const out = join(dir, 'model.onnx');
    const r = spawnSync('python3', [join(ROOT, 'scripts/models/simple_linear_demo.py'), out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readFileSync(out), readFileSync(join(ROOT, 'models/simple-linear-demo/1/model.onnx')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
