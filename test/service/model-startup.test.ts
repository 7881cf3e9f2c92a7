// Start-up of the real service (dist/, as `npm start`) with models: both committed models served by default, and a
// model that cannot load stops start-up with one line naming the file, before anything listens.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { NODE_FLAGS, ROOT, startService, type RunningService } from '../helpers/service.ts';

const QUIET = { OTEL_SDK_DISABLED: 'true', DEFAULT_LATENCY_MS: '0' };
const tmp = mkdtempSync(join(tmpdir(), 'startup-'));
const running: RunningService[] = [];
after(async () => {
  await Promise.all(running.map((s) => s.stop()));
  rmSync(tmp, { recursive: true, force: true });
});

/** Runs the service expecting it to exit before listening; resolves with its exit code and output. */
function failedStart(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const proc = spawn(process.execPath, [...NODE_FLAGS, '--import', join(ROOT, 'dist/telemetry/instrumentation.js'), join(ROOT, 'dist/service/main.js')], {
    cwd: tmp,
    env: { PATH: process.env.PATH ?? '', API_HOST: '127.0.0.1', API_PORT: '0', ...QUIET, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout.on('data', (d: Buffer) => (output += d));
  proc.stderr.on('data', (d: Buffer) => (output += d));
  return new Promise((resolve) => proc.once('close', (code) => resolve({ code, output })));
}

test('with neither MODEL_PATH nor MODEL_REPOSITORY the service serves both committed models', async () => {
  const svc = await startService(QUIET);
  running.push(svc);
  assert.equal((await fetch(`${svc.url}/readyz`)).status, 200);
  assert.equal((await fetch(`${svc.url}/v2/health/ready`)).status, 200);
  for (const name of ['simple-linear-demo', 'iris-classifier']) assert.equal((await fetch(`${svc.url}/v2/models/${name}/ready`)).status, 200, name);
  const loaded = svc.logLines().filter((l) => typeof l.msg === 'string' && l.msg.startsWith('Model ')).map((l) => l.model_name);
  assert.deepEqual(loaded.sort(), ['iris-classifier', 'simple-linear-demo']);
});

test('a model file that does not load stops start-up with one line naming the file', async () => {
  const junk = join(tmp, 'broken.onnx');
  writeFileSync(junk, 'this is not an ONNX model');
  const { code, output } = await failedStart({ MODEL_PATH: junk });
  assert.equal(code, 1);
  const fatal = output.split('\n').filter((l) => l.includes('Start-up failed'));
  assert.equal(fatal.length, 1, output);
  assert.match(fatal[0]!, new RegExp(`model simple-linear-demo: cannot load ${junk.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
  assert.doesNotMatch(output, /Server running on/);
});

test('a MODEL_NAME the repository does not hold stops start-up naming what it holds', async () => {
  const { code, output } = await failedStart({ MODEL_NAME: 'resnet50' });
  assert.equal(code, 1);
  assert.match(output, /Start-up failed: MODEL_NAME=resnet50 is not in the model repository .*models \(it holds iris-classifier, simple-linear-demo\)/);
});
