// The container, without Docker: what the image's stages do, done in a temporary directory, then the image's CMD
// started there the way the kubelet would start the pod, with the Deployment's environment and nothing else.
//   build stage   -> tsc -p tsconfig.build.json into <tmp>/dist (the sources of the checkout)
//   deps stage    -> npm ci --omit=dev in <tmp> from package.json + package-lock.json, then its onnxruntime prune
//   models        -> models/ copied into <tmp>/models
//   runtime stage -> cwd <tmp> (WORKDIR), the CMD's argv, uid/gid 65534 when the test runs as root (USER), files
//                    owned by root and not writable by the service (as in the image)
// Environment: exactly the Deployment's env (ConfigMap via envFrom + env), except three loopback overrides:
// API_HOST=127.0.0.1 and API_PORT=0 (a free port instead of 0.0.0.0:9000) and OTEL_EXPORTER_OTLP_ENDPOINT pointed at
// a local OtlpReceiver standing in for the otel-collector Service. No PATH, no HOME, no .env.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OtlpReceiver } from '../../src/receiver/receiver.ts';
import { envOf, execCmd, readDockerfile } from './helpers/dockerfile.ts';
import { APP, ROOT, containerEnvironment, deployment, loadObjects, onlyContainer } from './helpers/manifests.ts';

const NOBODY = 65534;
const objects = loadObjects();
const pod = deployment(objects, APP).spec!.template.spec!;
const container = onlyContainer(deployment(objects, APP));
const runtime = readDockerfile().stages.at(-1)!;
const isRoot = process.getuid?.() === 0;

let dir = '';
let receiver: OtlpReceiver | undefined;
let proc: ChildProcess | undefined;
let output = '';
let url = '';
let exited: Promise<number | null> = Promise.resolve(null);

function run(command: string, args: string[], cwd: string): void {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', env: process.env });
  assert.equal(r.status, 0, `${command} ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
}

/** This Node binary, or a copy of it in `dir` when it lies where the unprivileged user cannot reach it (a
 * toolchain under a root-only home, as on CI). The image has its node in /usr/local/bin, readable by everyone. */
function nodeBinaryFor(dir: string): string {
  if (!isRoot) return process.execPath;
  const probe = spawnSync(process.execPath, ['-e', '0'], { uid: NOBODY, gid: NOBODY, stdio: 'ignore' });
  if (probe.status === 0) return process.execPath;
  const copy = join(dir, '.node-bin');
  copyFileSync(process.execPath, copy);
  chmodSync(copy, 0o755);
  return copy;
}

async function get(path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url + path);
  return { status: res.status, body: await res.json() };
}

async function predict(features: number[]): Promise<{ status: number; body: any }> {
  const res = await fetch(url + '/predict', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ features }) });
  return { status: res.status, body: await res.json() };
}

describe('the container, rebuilt without Docker, serves and exports traces with the Deployment environment', { timeout: 240_000 }, () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'image-'));
    chmodSync(dir, 0o755); // like /app: readable by the service's user, writable only by root
    run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', join(dir, 'dist'), '--sourceMap', 'false'], ROOT);
    copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
    copyFileSync(join(ROOT, 'package-lock.json'), join(dir, 'package-lock.json'));
    run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], dir);
    rmSync(join(dir, 'package-lock.json')); // the runtime stage copies package.json only
    // The deps stage's prune of other platforms' onnxruntime binaries, and the runtime stage's COPY models.
    const ortRun = readDockerfile().stages.flatMap((s) => s.instructions).find((i) => i.op === 'RUN' && i.args.includes('ort='))!;
    run('sh', ['-c', ortRun.args.slice(ortRun.args.indexOf('ort='))], dir);
    cpSync(join(ROOT, 'models'), join(dir, 'models'), { recursive: true });

    receiver = new OtlpReceiver({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, healthPort: 0, print: false });
    await receiver.start();

    const env: Record<string, string> = {
      ...envOf(runtime),
      ...containerEnvironment(container, objects),
      API_HOST: '127.0.0.1',
      API_PORT: '0',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.grpcUrl,
    };
    const [node, ...args] = execCmd(runtime);
    assert.equal(node, 'node');
    proc = spawn(nodeBinaryFor(dir), args, {
      cwd: dir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(isRoot ? { uid: NOBODY, gid: NOBODY } : {}),
    });
    proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    exited = new Promise((resolve) => proc!.once('exit', (code) => resolve(code)));
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the service did not start within 20 s:\n${output}`)), 20_000);
      const check = () => {
        const m = /Server running on (http:\/\/[^\s"]+)/.exec(output);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      };
      proc!.stdout!.on('data', check);
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`the service exited with ${code} before listening:\n${output}`));
      });
    });
  });

  after(async () => {
    if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await receiver?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs as a user other than root', () => {
    const status = readFileSync(`/proc/${proc!.pid}/status`, 'utf8');
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
    assert.notEqual(uid, 0);
    if (isRoot) assert.equal(uid, NOBODY);
  });

  it('answers GET /health with the configuration of the ConfigMap', async () => {
    const { status, body } = await get('/health');
    assert.equal(status, 200);
    assert.equal(body.status, 'ok');
    assert.equal(body.env, 'local');
    assert.equal(body.tracing_enabled, true);
    assert.equal(body.collector_endpoint, receiver!.grpcUrl);
  });

  it('answers every probe path of the Deployment with 200', async () => {
    for (const probe of [container.startupProbe, container.readinessProbe, container.livenessProbe]) {
      const path = probe?.httpGet?.path;
      assert.ok(path, 'every probe is an HTTP GET');
      assert.equal((await get(path)).status, 200, path);
    }
  });

  it('answers POST /predict as the guide shows, and the trace reaches the collector endpoint', async () => {
    const { status, body } = await predict([0.5, 1.5, 2.0]);
    assert.equal(status, 200);
    assert.equal(body.prediction, 4);
    assert.equal(body.model_name, 'simple-linear-demo');
    assert.match(body.trace_id, /^[0-9a-f]{32}$/);
    await receiver!.waitForTrace(body.trace_id, 15_000);
  });

  it('drains on SIGTERM: not ready but still serving, then exits 0 within terminationGracePeriodSeconds', async () => {
    const started = Date.now();
    proc!.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await get('/readyz')).status, 503, 'readiness must fail at once so endpoints drop the pod');
    assert.equal((await get('/livez')).status, 200, 'liveness must hold, or the kubelet would restart the pod');
    const late = await predict([1, 2, 3]);
    assert.equal(late.status, 200, 'a request arriving during the delay is still answered');
    const code = await exited;
    const elapsed = Date.now() - started;
    assert.equal(code, 0, output);
    assert.ok(elapsed < (pod.terminationGracePeriodSeconds ?? 30) * 1000, `took ${elapsed} ms`);
    assert.ok(receiver!.traceIds().has(late.body.trace_id), 'the span of the last request was flushed before exit');
  });
});
