import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { envOf, execCmd, instructions, readDockerfile } from './helpers/dockerfile.ts';
import { APP, ROOT, deployment, loadObjects, onlyContainer } from './helpers/manifests.ts';
import { productionCommand } from '../helpers/service.ts';

const dockerfile = readDockerfile();
const runtime = dockerfile.stages.at(-1)!;
const all = instructions;
const dockerignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split(/\r?\n/).map((l) => l.trim());
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; allowScripts?: Record<string, boolean> };

describe('the Dockerfile', () => {
  it('builds in several stages on a pinned Node image whose major version is .nvmrc', () => {
    assert.ok(dockerfile.stages.length >= 2, 'multi-stage');
    const nvmrc = readFileSync(join(ROOT, '.nvmrc'), 'utf8').trim().replace(/^v/, '');
    for (const stage of dockerfile.stages) {
      if (dockerfile.stages.some((s) => s.name === stage.from)) continue; // FROM an earlier stage
      const m = /^node:(\d+)\.(\d+)\.(\d+)-[a-z]+-slim(@sha256:[0-9a-f]{64})?$/.exec(stage.from);
      assert.ok(m, `${stage.from} is not a node:<major>.<minor>.<patch>-<debian>-slim image`);
      assert.equal(m[1], nvmrc, `${stage.from}: major ${m[1]} differs from .nvmrc ${nvmrc}`);
    }
  });

  it('runs the final stage as a non-root numeric user', () => {
    const users = all(runtime, 'USER');
    assert.ok(users.length > 0, 'the runtime stage sets no USER');
    const user = users.at(-1)!.args.split(':')[0]!;
    assert.match(user, /^\d+$/, 'a numeric uid lets the kubelet verify runAsNonRoot');
    assert.notEqual(Number(user), 0);
    const cmdIndex = runtime.instructions.findIndex((i) => i.op === 'CMD');
    assert.ok(runtime.instructions.indexOf(users.at(-1)!) < cmdIndex, 'USER comes before CMD');
    const runAsUser = deployment(loadObjects(), APP).spec?.template.spec?.securityContext?.runAsUser;
    assert.equal(runAsUser, Number(user), 'the Deployment runs as the image user');
  });

  it('copies no .env into any stage and keeps it out of the build context', () => {
    for (const stage of dockerfile.stages) {
      for (const i of [...all(stage, 'COPY'), ...all(stage, 'ADD')]) {
        const sources = i.args.split(/\s+/).filter((w) => !w.startsWith('--')).slice(0, -1);
        for (const s of sources) {
          assert.doesNotMatch(s, /(^|\/)\.env/, `${i.op} ${i.args} copies an env file`);
          // Copying the whole context would pull .env in unless .dockerignore excludes it.
          if (s === '.' || s === './') assert.ok(dockerignore.includes('.env'));
        }
      }
    }
    assert.ok(dockerignore.includes('.env'), '.dockerignore must exclude .env');
    assert.ok(dockerignore.includes('node_modules'), '.dockerignore must exclude node_modules');
  });

  it('installs only production dependencies into the runtime image', () => {
    const deps = dockerfile.stages.find((s) => all(s, 'RUN').some((r) => /\bnpm ci\b.*--omit=dev/.test(r.args)));
    assert.ok(deps, 'no stage runs npm ci --omit=dev');
    const copies = all(runtime, 'COPY').map((c) => c.args);
    assert.ok(copies.some((c) => c.includes(`--from=${deps.name}`) && c.includes('node_modules')), 'runtime node_modules come from the --omit=dev stage');
    assert.ok(copies.some((c) => /--from=\S+ \S*dist/.test(c)), 'runtime copies the compiled dist/');
    assert.ok(copies.some((c) => /^package\.json\s/.test(c)), 'runtime copies package.json ("type": "module")');
    assert.ok(!all(runtime, 'RUN').some((r) => /\bnpm (ci|install)\b(?!.*--omit=dev)/.test(r.args)), 'runtime installs dev dependencies');
    assert.ok(!copies.some((c) => /(^|\s)(src|\.)\/?\s/.test(c)), 'runtime copies sources');
  });

  it('starts exactly what `npm start` runs in production, in exec form', () => {
    assert.ok(all(runtime, 'ENTRYPOINT').length === 0, 'an ENTRYPOINT would change what CMD runs');
    assert.deepEqual(execCmd(runtime), productionCommand(pkg.scripts.start!));
  });

  it('exposes the port the Deployment and the configuration use', () => {
    const exposed = all(runtime, 'EXPOSE').map((e) => Number(e.args));
    const port = onlyContainer(deployment(loadObjects(), APP)).ports?.[0]?.containerPort;
    assert.deepEqual(exposed, [port]);
    const env = envOf(runtime);
    assert.equal(env.API_PORT, String(port));
    assert.equal(env.API_HOST, '0.0.0.0');
  });

  it('gets a CPU ONNX Runtime without its install script in every stage that installs packages', () => {
    assert.equal(pkg.allowScripts?.['onnxruntime-node'], false, 'package.json denies the install script (npm 11)');
    for (const stage of dockerfile.stages.filter((s) => all(s, 'RUN').some((r) => /\bnpm ci\b/.test(r.args)))) {
      assert.equal(envOf(stage).ONNXRUNTIME_NODE_INSTALL, 'skip', `stage ${stage.name} skips the download for other clients`);
    }
  });

  it('keeps only its own platform\'s onnxruntime binaries: the prune step, run on a copy of the package layout', () => {
    const run = all(dockerfile.stages.find((s) => all(s, 'RUN').some((r) => /--omit=dev/.test(r.args)))!, 'RUN').find((r) => /--omit=dev/.test(r.args))!;
    const prune = run.args.slice(run.args.indexOf('ort='));
    assert.ok(prune.startsWith('ort=node_modules/onnxruntime-node/bin'), run.args);
    const dir = mkdtempSync(join(tmpdir(), 'ort-prune-'));
    try {
      for (const platform of ['darwin', 'linux', 'win32']) {
        for (const arch of ['x64', 'arm64']) {
          const d = join(dir, 'node_modules/onnxruntime-node/bin/napi-v6', platform, arch);
          mkdirSync(d, { recursive: true });
          writeFileSync(join(d, 'onnxruntime_binding.node'), '');
        }
      }
      execFileSync('sh', ['-c', prune], { cwd: dir });
      const bin = join(dir, 'node_modules/onnxruntime-node/bin/napi-v6');
      assert.deepEqual(readdirSync(bin), [process.platform]);
      assert.deepEqual(readdirSync(join(bin, process.platform)), [process.arch]);
      assert.ok(existsSync(join(bin, process.platform, process.arch, 'onnxruntime_binding.node')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ships the model repository that the service loads by default', () => {
    assert.ok(all(runtime, 'COPY').some((c) => c.args === 'models ./models'), 'runtime copies models/');
    assert.ok(!dockerignore.includes('models'), '.dockerignore keeps models/ in the build context');
    assert.ok(existsSync(join(ROOT, 'models', 'simple-linear-demo', '1', 'model.onnx')));
  });
});
