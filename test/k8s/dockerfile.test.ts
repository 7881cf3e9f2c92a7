import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { APP, ROOT, deployment, loadObjects, onlyContainer } from './helpers/manifests.ts';

interface Instruction {
  readonly op: string;
  readonly args: string;
}
interface Stage {
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: Instruction[];
}

/** Instructions of a Dockerfile (comments dropped, `\` continuations joined), grouped by stage, ARGs resolved in FROM. */
function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, op = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const instruction = { op: op.toUpperCase(), args: rest };
    if (instruction.op === 'ARG' && stages.length === 0) {
      const [k, v = ''] = rest.split('=');
      args[k!] = v;
    } else if (instruction.op === 'FROM') {
      const [image = '', , name] = rest.replace(/\$\{(\w+)\}/g, (_, k: string) => args[k] ?? '').split(/\s+/);
      stages.push({ from: image, name, instructions: [] });
    } else {
      assert.ok(stages.length > 0, `${op} before FROM`);
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return { args, stages };
}

const dockerfile = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const runtime = dockerfile.stages.at(-1)!;
const all = (stage: Stage, op: string) => stage.instructions.filter((i) => i.op === op);
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
    const cmd = all(runtime, 'CMD').at(-1);
    assert.ok(cmd, 'no CMD');
    assert.ok(all(runtime, 'ENTRYPOINT').length === 0, 'an ENTRYPOINT would change what CMD runs');
    const argv = JSON.parse(cmd.args) as unknown;
    assert.deepEqual(argv, pkg.scripts.start!.split(/\s+/));
  });

  it('exposes the port the Deployment and the configuration use', () => {
    const exposed = all(runtime, 'EXPOSE').map((e) => Number(e.args));
    const port = onlyContainer(deployment(loadObjects(), APP)).ports?.[0]?.containerPort;
    assert.deepEqual(exposed, [port]);
    const env = all(runtime, 'ENV').map((e) => e.args).join(' ');
    assert.match(env, new RegExp(`API_PORT=${port}\\b`));
    assert.match(env, /API_HOST=0\.0\.0\.0\b/);
  });
});
