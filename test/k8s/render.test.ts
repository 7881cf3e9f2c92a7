import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  APP,
  COLLECTOR,
  COLLECTOR_CONFIG,
  NAMESPACE,
  configMap,
  deployment,
  findObject,
  key,
  kubectlAvailable,
  kustomizationResources,
  loadFiles,
  loadObjects,
  onlyContainer,
  renderKustomize,
  service,
  type K8sObject,
} from './helpers/manifests.ts';

const files = loadFiles();
const objects = loadObjects();

describe('k8s/ renders and follows the guide', () => {
  it('kubectl kustomize k8s renders exactly the objects of the files it lists', (t) => {
    if (!kubectlAvailable()) return t.skip('kubectl is not installed');
    const rendered = renderKustomize();
    assert.deepEqual(rendered.map(key).sort(), objects.map(key).sort());
    // kustomize reorders and reformats but must not change content.
    for (const obj of objects) {
      assert.deepEqual(rendered.find((r) => key(r) === key(obj)), obj, `${key(obj)} differs after rendering`);
    }
  });

  it('lists the guide files in the order the guide applies them', () => {
    const guideOrder = ['namespace.yaml', 'collector-config.yaml', 'collector-deployment.yaml', 'deployment.yaml', 'service.yaml'];
    const listed = kustomizationResources();
    assert.deepEqual(listed.filter((f) => guideOrder.includes(f)), guideOrder);
    assert.equal(listed[0], 'namespace.yaml');
  });

  it('puts every object in the namespace ai-ml-lab-2-2, which namespace.yaml creates', () => {
    const ns = findObject(objects, 'Namespace', NAMESPACE);
    assert.ok(files[0]!.objects.some((o) => key(o) === key(ns)), 'the Namespace must come from the first file');
    for (const obj of objects) {
      if (obj.kind === 'Namespace') continue;
      assert.equal(obj.metadata.namespace, NAMESPACE, `${key(obj)} has no explicit namespace`);
    }
    assert.equal(new Set(objects.map(key)).size, objects.length, 'an object is defined twice');
  });

  it('lets each file be applied on its own in order: what a file refers to is in it or in an earlier file', () => {
    const seen: K8sObject[] = [];
    for (const { file, objects: own } of files) {
      const available = [...seen, ...own];
      for (const obj of own) {
        if (obj.kind !== 'Deployment') continue;
        const spec = (obj as unknown as ReturnType<typeof deployment>).spec?.template.spec;
        const names = [
          ...(spec?.volumes ?? []).flatMap((v) => (v.configMap?.name ? [v.configMap.name] : [])),
          ...(spec?.containers ?? []).flatMap((c) => (c.envFrom ?? []).flatMap((e) => (e.configMapRef?.name ? [e.configMapRef.name] : []))),
        ];
        for (const name of names) {
          assert.ok(
            available.some((o) => o.kind === 'ConfigMap' && o.metadata.name === name),
            `k8s/${file}: ${obj.metadata.name} needs ConfigMap ${name}, which no earlier file creates`,
          );
        }
      }
      seen.push(...own);
    }
  });

  it('keeps the names, ports and image the guide uses', () => {
    const cfg = configMap(objects, COLLECTOR_CONFIG);
    assert.equal(Object.keys(cfg.data ?? {}).length, 1, 'the guide shows DATA 1 for otel-collector-config');
    assert.deepEqual(service(objects, COLLECTOR).spec?.ports?.map((p) => p.port), [4317, 4318]);
    assert.deepEqual(service(objects, APP).spec?.ports?.map((p) => p.port), [9000]);
    assert.equal(service(objects, COLLECTOR).spec?.type, 'ClusterIP');
    assert.equal(service(objects, APP).spec?.type, 'ClusterIP');
    const app = onlyContainer(deployment(objects, APP));
    assert.equal(app.image, 'ai-lab-2-2-paid:v1');
    // kind-loaded images are not in any registry: the kubelet must not try to pull them.
    assert.ok(['IfNotPresent', 'Never'].includes(app.imagePullPolicy ?? ''), `imagePullPolicy ${app.imagePullPolicy}`);
    const resources = app.resources;
    assert.deepEqual(
      { requests: resources?.requests, limits: resources?.limits },
      { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '500m', memory: '512Mi' } },
      'Test 9 of the guide shows these values',
    );
    assert.deepEqual(onlyContainer(deployment(objects, COLLECTOR)).resources?.requests, { cpu: '100m', memory: '128Mi' });
  });

  it('labels every object with app.kubernetes.io/* and the guide selectors app=otel-collector and app=ai-lab-2-2-paid', () => {
    for (const obj of objects) {
      const labels = obj.metadata.labels ?? {};
      for (const label of ['app.kubernetes.io/name', 'app.kubernetes.io/part-of', 'app.kubernetes.io/managed-by']) {
        assert.ok(labels[label], `${key(obj)} lacks ${label}`);
      }
    }
    for (const name of [APP, COLLECTOR]) {
      const d = deployment(objects, name);
      assert.equal(d.metadata?.labels?.app, name);
      assert.equal(d.spec?.template.metadata?.labels?.app, name, `the pods of ${name} lack app=${name}`);
      assert.ok(d.spec?.template.metadata?.labels?.['app.kubernetes.io/name'], `the pods of ${name} lack app.kubernetes.io/name`);
      // `kubectl logs -l app=<name>` must select the pods of this Deployment and no other.
      const matching = objects.filter(
        (o) => o.kind === 'Deployment' && (o as unknown as typeof d).spec?.template.metadata?.labels?.app === name,
      );
      assert.equal(matching.length, 1);
    }
  });
});
