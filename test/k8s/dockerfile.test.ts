import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { envOf, execCmd, instructions, readDockerfile } from './helpers/dockerfile.ts';
import { APP, ROOT, deployment, loadObjects, onlyContainer } from './helpers/manifests.ts';
import { productionCommand } from '../helpers/service.ts';

const dockerfile = readDockerfile();
const runtime = dockerfile.stages.at(-1)!;
const all = instructions;
const dockerignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split(/\r?\n/).map((l) => l.trim());
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

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
});
