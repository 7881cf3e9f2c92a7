// docs/OBSERVABILITY.md and the README's section describe the overlay and compose.yaml; these checks keep the words
// (commands, ports, images, resources, sampling figures) equal to the files.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { fencedBlocks } from '../helpers/markdown.ts';
import { ROOT, kubectlAvailable, onlyContainer, service, type K8sObject } from './helpers/manifests.ts';
import { deployments, parseOverlayYaml, readRepoFile, renderOverlay, type CollectorConfig } from './helpers/overlay.ts';

const doc = readRepoFile('docs/OBSERVABILITY.md');
const readme = readRepoFile('README.md');
const objects: K8sObject[] = kubectlAvailable() ? renderOverlay() : [];
const skipWithoutKubectl = { skip: kubectlAvailable() ? false : 'kubectl is not installed' };
const collector = parseOverlayYaml<CollectorConfig>('collector/config.yaml');

describe('docs/OBSERVABILITY.md and the README describe the stack as the files define it', skipWithoutKubectl, () => {
  it('labels every output block as illustrative or as an excerpt of a file that exists', () => {
    for (const b of fencedBlocks(doc).filter((x) => x.lang !== 'bash' && !x.body.startsWith('service ──'))) {
      const from = /^\*From `([^`]+)`/.exec(b.caption);
      if (from) assert.ok(existsSync(join(ROOT, from[1]!)), `line ${b.line}: ${from[1]} does not exist`);
      else assert.ok(b.caption.startsWith('*Illustrative output (not captured from a cluster)'), `line ${b.line}: unlabelled block`);
    }
  });

  it('shows the tail_sampling excerpt exactly as the Collector configuration has it', () => {
    const excerpt = fencedBlocks(doc).find((b) => b.caption.startsWith('*From `k8s/overlays/observability/collector/config.yaml`'));
    assert.ok(excerpt);
    assert.deepEqual(parse(excerpt.body), { tail_sampling: collector.processors?.tail_sampling });
  });

  it('states the sampling figures of the configuration', () => {
    const ts = collector.processors?.tail_sampling;
    const policy = (type: string) => ts.policies.find((p: { type: string }) => p.type === type);
    assert.ok(doc.includes(`longer than the ${policy('latency').latency.threshold_ms} ms p99 SLO`));
    assert.ok(doc.includes(`and ${policy('probabilistic').probabilistic.sampling_percentage} % of the others`));
    assert.ok(doc.includes(`waits ${ts.decision_wait.replace('s', ' s')} after`));
    assert.ok(doc.includes(`at most ${ts.num_traces.toLocaleString('en').replace(',', ' ')}`));
  });

  it('port-forwards only to Services and ports of the overlay, in the doc, the README and kind:up', () => {
    const kindUp = readRepoFile('scripts/kind-up.sh');
    for (const [where, text] of [['docs/OBSERVABILITY.md', doc], ['README.md', readme], ['scripts/kind-up.sh', kindUp]] as const) {
      const forwards = [...text.matchAll(/kubectl port-forward -n (?:ai-ml-lab-2-2|\$\{NAMESPACE\}) svc\/([\w-]+) (\d+):(\d+)/g)];
      assert.ok(forwards.length >= 3, where);
      for (const [, svc, , port] of forwards) {
        assert.ok(service(objects, svc!).spec?.ports?.some((p) => p.port === Number(port)), `${where}: svc/${svc} has no port ${port}`);
      }
    }
  });

  it('lists every component with the image, requests and limits of its Deployment', () => {
    const rows = new Map(
      [...doc.matchAll(/^\| [\w ]+ \| `([^`]+)` \| (\S+), (\S+) \| (\S+), (\S+) \|/gm)].map((m) => [m[1]!, m.slice(2, 6)]),
    );
    assert.equal(rows.size, deployments(objects).length);
    for (const d of deployments(objects)) {
      const c = onlyContainer(d);
      const r = c.resources!;
      assert.deepEqual(rows.get(c.image!), [r.requests!.cpu, r.requests!.memory, r.limits!.cpu, r.limits!.memory], c.image);
    }
  });

  it('names only repository files that exist', () => {
    const paths = /`((?:k8s|src|scripts|test|docs)\/[\w./-]*[\w/]|compose\.yaml|Dockerfile)`/g;
    const named = [...doc.matchAll(paths), ...readme.matchAll(paths)].map((m) => m[1]!);
    assert.ok(named.includes('k8s/overlays/observability/collector/config.yaml'));
    for (const p of named) assert.ok(existsSync(join(ROOT, p)), `${p} does not exist`);
  });

  it('tells README readers the kind:up flag, the compose command and where the details are', () => {
    assert.match(readme, /npm run kind:up -- --with-observability/);
    assert.match(readme, /docker compose up/);
    assert.match(readme, /\[docs\/OBSERVABILITY\.md\]\(docs\/OBSERVABILITY\.md\)/);
    assert.match(readRepoFile('scripts/kind-up.sh'), /^\s+--with-observability\) WITH_OBSERVABILITY=1 ;;$/m);
  });
});
