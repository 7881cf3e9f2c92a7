import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { restrictedViolations } from './helpers/pod-security.ts';
import { NAMESPACE, findObject, loadObjects, onlyContainer, deployment } from './helpers/manifests.ts';

const objects = loadObjects();
const pods = objects
  .filter((o) => o.kind === 'Deployment')
  .map((o) => ({ name: o.metadata.name, spec: deployment(objects, o.metadata.name).spec!.template.spec! }));

describe('the restricted Pod Security Standard', () => {
  it('is enforced on the namespace at a pinned version', () => {
    const labels = findObject(objects, 'Namespace', NAMESPACE).metadata.labels ?? {};
    assert.equal(labels['pod-security.kubernetes.io/enforce'], 'restricted');
    assert.match(labels['pod-security.kubernetes.io/enforce-version'] ?? '', /^v1\.\d+$/);
  });

  it('finds the two pods of the guide to check', () => {
    assert.deepEqual(pods.map((p) => p.name).sort(), ['ai-lab-2-2-paid', 'otel-collector']);
  });

  for (const pod of pods) {
    it(`holds for every container of ${pod.name}`, () => {
      assert.deepEqual(restrictedViolations(pod.spec), []);
    });

    it(`gives ${pod.name} a read-only root filesystem and no service account token`, () => {
      assert.equal(onlyContainer(deployment(objects, pod.name)).securityContext?.readOnlyRootFilesystem, true);
      assert.equal(pod.spec.automountServiceAccountToken, false);
    });
  }

  it('reports each rule a permissive pod breaks', () => {
    const bad: IPodSpec = {
      hostNetwork: true,
      securityContext: { seccompProfile: { type: 'Unconfined' } },
      volumes: [{ name: 'h', hostPath: { path: '/' } }],
      containers: [
        {
          name: 'c',
          ports: [{ containerPort: 80, hostPort: 80 }],
          securityContext: { privileged: true, runAsUser: 0, capabilities: { add: ['SYS_ADMIN'] } },
        },
      ],
    };
    const v = restrictedViolations(bad).join('\n');
    for (const expected of [
      /host namespaces/,
      /volume h has type hostPath/,
      /pod seccompProfile Unconfined/,
      /privileged/,
      /hostPort 80/,
      /allowPrivilegeEscalation must be false/,
      /runAsNonRoot must be true/,
      /runAsUser 0/,
      /must drop ALL/,
      /adds capability SYS_ADMIN/,
    ]) {
      assert.match(v, expected);
    }
  });
});
