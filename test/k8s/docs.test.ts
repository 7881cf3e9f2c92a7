// docs/KUBERNETES.md walks the guide for this project; these checks keep it in step with the files it describes.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { fencedBlocks } from '../helpers/markdown.ts';
import { readDockerfile } from './helpers/dockerfile.ts';
import { APP, COLLECTOR, ROOT, configMap, deployment, loadObjects, onlyContainer, quantity } from './helpers/manifests.ts';

const doc = readFileSync(join(ROOT, 'docs/KUBERNETES.md'), 'utf8');
const objects = loadObjects();
const kindConfig = readFileSync(join(ROOT, 'kind-mcp-cluster.yaml'), 'utf8');
const kindUp = readFileSync(join(ROOT, 'scripts/kind-up.sh'), 'utf8');

/** The text of a section, from its heading to the next heading of the same or a higher level. */
function section(heading: RegExp): string {
  const lines = doc.split('\n');
  const start = lines.findIndex((l) => /^#+ /.test(l) && heading.test(l));
  assert.ok(start >= 0, `no heading matching ${heading}`);
  const level = /^#+/.exec(lines[start]!)![0].length;
  const end = lines.findIndex((l, i) => i > start && /^#+ /.test(l) && /^#+/.exec(l)![0].length <= level);
  return lines.slice(start, end === -1 ? undefined : end).join('\n');
}

const money = (n: number) => `$${n.toFixed(2)}`;

describe('docs/KUBERNETES.md', () => {
  it('walks through Steps 1-12, Tests 1-12, Cleanup and Troubleshooting in order', () => {
    const headings = doc.split('\n').filter((l) => /^#+ /.test(l));
    const wanted = [
      ...Array.from({ length: 12 }, (_, i) => new RegExp(`^### Step ${i + 1}:`)),
      ...Array.from({ length: 12 }, (_, i) => new RegExp(`^### Test ${i + 1}:`)),
      /^## Cleanup$/,
      /^## Troubleshooting$/,
    ];
    let at = -1;
    for (const w of wanted) {
      const found = headings.findIndex((h, i) => i > at && w.test(h));
      assert.ok(found > at, `missing or out of order: ${w}`);
      at = found;
    }
  });

  it('names the versions that the files pin', () => {
    const node = readDockerfile().stages.at(-1)!.from;
    const collector = onlyContainer(deployment(objects, COLLECTOR)).image!;
    const kindNode = /image:\s*(kindest\/node:(v[\d.]+)@sha256:([0-9a-f]{64}))/.exec(kindConfig);
    const metricsServer = /metrics-server\/releases\/download\/(v[\d.]+)\//.exec(kindUp);
    assert.ok(kindNode && metricsServer);
    assert.ok(doc.includes(node), node);
    assert.ok(doc.includes(collector), collector);
    assert.ok(doc.includes(`kindest/node:${kindNode[2]}@sha256:${kindNode[3]!.slice(0, 8)}`), 'kind node image and digest');
    assert.ok(doc.includes(kindNode[3]!.slice(-7)), 'kind node digest suffix');
    assert.ok(doc.includes(`metrics-server/releases/download/${metricsServer[1]}/components.yaml`));
  });

  it('shows in Step 3 exactly the configuration that the Deployment sets', () => {
    const block = /```yaml\n([\s\S]*?)```/.exec(section(/^### Step 3:/))?.[1];
    assert.ok(block, 'Step 3 has no yaml block');
    const shown = parse(block) as Record<string, unknown>;
    const actual = configMap(objects, `${APP}-env`).data ?? {};
    assert.deepEqual(Object.fromEntries(Object.entries(shown).map(([k, v]) => [k, String(v)])), actual);
  });

  it('recomputes the cost analysis from the requests and limits of the manifests', () => {
    const costs = section(/^## Cloud cost analysis/);
    const cpuPrice = Number(/\$([\d.]+) per vCPU-hour/.exec(costs)?.[1]);
    const memPrice = Number(/\$([\d.]+) per\s+GiB-hour/.exec(costs)?.[1]);
    const hours = Number(/\*\*(\d+) hours\*\*/.exec(costs)?.[1]);
    const spot = 1 - Number(/\*\*(\d+) % cheaper\*\*/.exec(costs)?.[1]) / 100;
    assert.ok(cpuPrice > 0 && memPrice > 0 && hours > 0 && spot > 0 && spot < 1, 'the assumed prices are stated');
    const perPod = (name: string, kind: 'requests' | 'limits') => {
      const r = onlyContainer(deployment(objects, name)).resources![kind]!;
      const cpu = quantity(r.cpu) * hours * cpuPrice;
      const mem = (quantity(r.memory) / 2 ** 30) * hours * memPrice;
      return { cpu, mem, total: Number(cpu.toFixed(2)) + Number(mem.toFixed(2)) };
    };
    const app = perPod(APP, 'requests');
    const collector = perPod(COLLECTOR, 'requests');
    for (const v of [app.cpu, app.mem, app.total, collector.cpu, collector.mem, collector.total]) {
      assert.ok(costs.includes(money(v)), `the table lacks ${money(v)}`);
    }
    const total = app.total + collector.total;
    assert.ok(costs.includes(`**${money(total)}**`), `on-demand total ${money(total)}`);
    assert.ok(costs.includes(`**${money(total * spot)}**`), `spot total ${money(total * spot)}`);
    const atLimits = [APP, COLLECTOR].map((n) => perPod(n, 'limits'));
    const limitsCpu = atLimits.reduce((s, p) => s + p.cpu, 0);
    const limitsMem = atLimits.reduce((s, p) => s + p.mem, 0);
    assert.ok(costs.includes(`**${money(Number(limitsCpu.toFixed(2)) + Number(limitsMem.toFixed(2)))}**`), 'total at the limits');
  });

  it('labels every block that is not a command as illustrative, captured locally, or an excerpt of a file that exists', () => {
    const convention = section(/^## About the outputs on this page$/);
    for (const c of ['*Illustrative output (not captured from a cluster).*', '*Captured locally.*', '*From `<file>`.*']) {
      assert.ok(convention.includes(c), `the convention does not explain ${c}`);
    }
    assert.ok(section(/^## Local captures$/).includes('npm start'), 'Local captures gives the commands');
    const outputs = fencedBlocks(doc).filter((b) => b.lang !== 'bash');
    assert.ok(outputs.length > 40, `only ${outputs.length} output blocks found`);
    for (const b of outputs) {
      const from = /^\*From `([^`]+)`/.exec(b.caption);
      if (from) assert.ok(existsSync(join(ROOT, from[1]!)), `line ${b.line}: ${from[1]} does not exist`);
      else if (b.caption.startsWith('*Captured locally')) assert.ok(b.caption.includes('(#local-captures)'), `line ${b.line}: no link to Local captures`);
      else assert.ok(b.caption.startsWith('*Illustrative output (not captured from a cluster)'), `line ${b.line}: unlabelled block, above it: ${b.caption}`);
    }
  });

  it('names only repository files that exist', () => {
    const paths = /`((?:k8s|src|scripts|test|docs|load-generator)\/[\w./-]*[\w/]|Dockerfile|\.nvmrc|\.env\.example|kind-mcp-cluster\.yaml|package\.json)`/g;
    const named = [...doc.matchAll(paths)].map((m) => m[1]!);
    assert.ok(named.includes('src/shared/config.ts') && named.includes('k8s/deployment.yaml'), named.join(', '));
    for (const p of named) assert.ok(existsSync(join(ROOT, p)), `${p} does not exist`);
  });

  it('shows kubectl creating and deleting only objects that the manifests define', () => {
    const verbs = /^([a-z]+)(?:\.[\w.]+)?\/([\w-]+) (?:created|configured|deleted|condition met)$/gm;
    const shown = fencedBlocks(doc).flatMap((b) => [...b.body.matchAll(verbs)].map((m) => ({ kind: m[1]!, name: m[2]! })));
    assert.ok(shown.length >= 8, `only ${shown.length} kubectl result lines`);
    for (const { kind, name } of shown) {
      assert.ok(objects.some((o) => o.kind.toLowerCase() === kind && o.metadata.name === name), `${kind}/${name} is not in k8s/`);
    }
  });
});
