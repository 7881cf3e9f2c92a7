import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import { ROOT, kubectlAvailable, kustomizationResources } from './helpers/manifests.ts';

// Stand-ins for docker, kind and kubectl that record any call: a dry run must call none of them.
const stubDir = mkdtempSync(join(tmpdir(), 'kind-up-stubs-'));
const calls = join(stubDir, 'calls.log');
for (const tool of ['docker', 'kind', 'kubectl']) {
  writeFileSync(join(stubDir, tool), `#!/bin/sh\necho "${tool} $*" >> "${calls}"\nexit 1\n`);
  chmodSync(join(stubDir, tool), 0o755);
}
after(() => rmSync(stubDir, { recursive: true, force: true }));

function runScript(script: string, ...args: string[]) {
  const r = spawnSync('bash', [join(ROOT, 'scripts', script), ...args], {
    cwd: tmpdir(), // the scripts must find the repository themselves
    encoding: 'utf8',
    env: { PATH: `${stubDir}:/usr/bin:/bin` },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, commands: r.stdout.split('\n').filter((l) => l.startsWith('+ ')).map((l) => l.slice(2)) };
}

const packageScripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

describe('the kind:up and kind:down scripts', () => {
  it('are what npm run kind:up and npm run kind:down call', () => {
    assert.equal(packageScripts['kind:up'], 'bash scripts/kind-up.sh');
    assert.equal(packageScripts['kind:down'], 'bash scripts/kind-down.sh');
  });

  it('pass shellcheck', (t) => {
    if (spawnSync('shellcheck', ['--version'], { stdio: 'ignore' }).status !== 0) {
      return t.skip('shellcheck is not installed (Debian package shellcheck)');
    }
    const r = spawnSync('shellcheck', ['--shell=bash', 'scripts/kind-up.sh', 'scripts/kind-down.sh'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  it('stop on the first error and on unset variables', () => {
    for (const script of ['kind-up.sh', 'kind-down.sh']) {
      assert.match(readFileSync(join(ROOT, 'scripts', script), 'utf8'), /^set -euo pipefail$/m, script);
    }
  });

  it('print the guide steps 1-10 in order on kind:up --dry-run, without running any of them', () => {
    const r = runScript('kind-up.sh', '--dry-run');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(existsSync(calls), false, `the dry run called: ${existsSync(calls) ? readFileSync(calls, 'utf8') : ''}`);
    const expected = [
      /^kind create cluster --config kind-mcp-cluster\.yaml$/,
      /^docker build -t ai-lab-2-2-paid:v1 \.$/,
      /^kind load docker-image ai-lab-2-2-paid:v1 --name mcp-cluster$/,
      /^kubectl --context kind-mcp-cluster apply -f https:\/\/github\.com\/kubernetes-sigs\/metrics-server\/releases\/download\/v0\.[78]\.\d+\/components\.yaml$/,
      /^kubectl --context kind-mcp-cluster -n kube-system patch deployment metrics-server .*--kubelet-insecure-tls/,
      ...kustomizationResources().slice(0, 4).map((f) => new RegExp(`^kubectl --context kind-mcp-cluster apply -f k8s/${f.replace('.', '\\.')}$`)),
      /^kubectl --context kind-mcp-cluster wait --for=condition=available --timeout=\d+s deployment\/otel-collector -n ai-ml-lab-2-2$/,
      ...kustomizationResources().slice(4).map((f) => new RegExp(`^kubectl --context kind-mcp-cluster apply -f k8s/${f.replace('.', '\\.')}$`)),
      /^kubectl --context kind-mcp-cluster rollout restart deployment\/ai-lab-2-2-paid -n ai-ml-lab-2-2$/,
      /^kubectl --context kind-mcp-cluster rollout status --timeout=\d+s deployment\/ai-lab-2-2-paid -n ai-ml-lab-2-2$/,
      /^kubectl --context kind-mcp-cluster wait --for=condition=available --timeout=\d+s deployment\/ai-lab-2-2-paid -n ai-ml-lab-2-2$/,
      /^kubectl --context kind-mcp-cluster -n kube-system rollout status --timeout=\d+s deployment\/metrics-server$/,
      /^kubectl --context kind-mcp-cluster get pods,svc -n ai-ml-lab-2-2$/,
    ];
    assert.equal(r.commands.length, expected.length, r.commands.join('\n'));
    r.commands.forEach((c, i) => assert.match(c, expected[i]!));
    assert.match(r.stdout, /kubectl port-forward -n ai-ml-lab-2-2 svc\/ai-lab-2-2-paid 9002:9000/);
  });

  it('applies every file of the kustomization, the Collector before the service', () => {
    const applied = runScript('kind-up.sh', '--dry-run').commands.flatMap((c) => /apply -f k8s\/(\S+)$/.exec(c)?.[1] ?? []);
    assert.deepEqual(applied, kustomizationResources());
  });

  it('prints a copy-pasteable metrics-server patch that adds --kubelet-insecure-tls', () => {
    const patch = runScript('kind-up.sh', '--dry-run').commands.find((c) => c.includes('patch deployment metrics-server'));
    const json = /-p '(.*)'$/.exec(patch ?? '')?.[1];
    assert.deepEqual(JSON.parse(json ?? 'null'), [{ op: 'add', path: '/spec/template/spec/containers/0/args/-', value: '--kubelet-insecure-tls' }]);
  });

  it('creates the cluster from kind-mcp-cluster.yaml, named mcp-cluster, on a pinned node image', () => {
    const cluster = parse(readFileSync(join(ROOT, 'kind-mcp-cluster.yaml'), 'utf8')) as { kind: string; apiVersion: string; name: string; nodes: { role: string; image?: string }[] };
    assert.equal(cluster.kind, 'Cluster');
    assert.equal(cluster.apiVersion, 'kind.x-k8s.io/v1alpha4');
    assert.equal(cluster.name, 'mcp-cluster');
    assert.ok(cluster.nodes.length >= 1);
    for (const node of cluster.nodes) assert.match(node.image ?? '', /^kindest\/node:v1\.\d+\.\d+@sha256:[0-9a-f]{64}$/);
  });

  it('deletes the cluster mcp-cluster on kind:down --dry-run, without running it', () => {
    const r = runScript('kind-down.sh', '--dry-run');
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.commands, ['kind delete cluster --name mcp-cluster']);
    assert.equal(existsSync(calls), false);
  });

  it('refuse an unknown argument with exit code 2', () => {
    for (const script of ['kind-up.sh', 'kind-down.sh']) {
      const r = runScript(script, '--dryrun');
      assert.equal(r.status, 2, script);
      assert.match(r.stderr, /unknown argument: --dryrun/);
    }
    assert.equal(existsSync(calls), false);
  });
});

describe('kind:up --with-observability', () => {
  it('applies the rendered observability overlay after the guide steps, restarts its pods and waits for every Deployment', async (t) => {
    if (!kubectlAvailable()) return t.skip('kubectl is not installed');
    const { renderOverlay } = await import('./helpers/overlay.ts');
    const plain = runScript('kind-up.sh', '--dry-run').commands;
    const r = runScript('kind-up.sh', '--dry-run', '--with-observability');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(existsSync(calls), false, 'the dry run called a tool');
    const verify = plain.findIndex((c) => c.includes('rollout status --timeout=180s deployment/metrics-server'));
    assert.deepEqual(r.commands.slice(0, verify), plain.slice(0, verify), 'the guide steps come first, unchanged');
    assert.deepEqual(r.commands.slice(-2), plain.slice(-2), 'Step 10 comes last');
    const added = r.commands.slice(verify, -2);
    const render = /^kubectl kustomize --load-restrictor=LoadRestrictionsNone -o (\S+) k8s\/overlays\/observability$/.exec(added[0] ?? '');
    assert.ok(render, added.join('\n'));
    assert.equal(added[1], `kubectl --context kind-mcp-cluster apply -f ${render[1]}`);
    assert.match(added[2]!, /^kubectl --context kind-mcp-cluster rollout restart( deployment\/[\w-]+)+ -n ai-ml-lab-2-2$/);
    const overlayDeployments = renderOverlay().filter((o) => o.kind === 'Deployment').map((o) => o.metadata.name);
    const waited = added.slice(3).map((c) => /rollout status --timeout=\d+s deployment\/([\w-]+) -n ai-ml-lab-2-2$/.exec(c)?.[1]);
    assert.deepEqual([...waited].sort(), [...overlayDeployments].sort());
    for (const [svc, port] of [['grafana', 3000], ['jaeger', 16686], ['prometheus', 9090]] as const) {
      assert.match(r.stdout, new RegExp(`kubectl port-forward -n ai-ml-lab-2-2 svc/${svc} ${port}:${port}`));
    }
  });
});
