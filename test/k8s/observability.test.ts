// The observability overlay, rendered offline: what it adds to the guide's manifests, and whether those objects
// would be admitted and would find each other on a cluster.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { LimitRange } from 'kubernetes-models/v1/LimitRange';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ResourceQuota } from 'kubernetes-models/v1/ResourceQuota';
import { Service } from 'kubernetes-models/v1/Service';
import { KNOWN_VARIABLES, parseConfig } from '../../src/shared/config.ts';
import { restrictedViolations } from './helpers/pod-security.ts';
import {
  APP,
  COLLECTOR,
  NAMESPACE,
  configMap,
  containerEnvironment,
  deployment,
  findObject,
  key,
  kubectlAvailable,
  kustomizationResources,
  loadObjects,
  onlyContainer,
  quantity,
  service,
  surge,
  validateSchema,
  type K8sObject,
  type ModelClass,
} from './helpers/manifests.ts';
import { deployments, parseOverlayYaml, readOverlayFile, renderOverlay, resolvePort } from './helpers/overlay.ts';

const BACKENDS = ['jaeger', 'prometheus', 'grafana'] as const;
const base = loadObjects();
const objects: K8sObject[] = kubectlAvailable() ? renderOverlay() : [];
const skipWithoutKubectl = { skip: kubectlAvailable() ? false : 'kubectl is not installed' };

const MODELS: readonly ModelClass[] = [Namespace, ResourceQuota, LimitRange, ConfigMap, Service, Deployment, NetworkPolicy] as never;

describe('k8s/overlays/observability renders the guide stack plus Jaeger, Prometheus and Grafana', skipWithoutKubectl, () => {
  it('lists exactly the guide files of k8s/kustomization.yaml, in their order, as its base', () => {
    const k = parseOverlayYaml<{ resources: string[] }>('kustomization.yaml');
    const guide = k.resources.filter((r) => r.startsWith('../../')).map((r) => r.slice('../../'.length));
    assert.deepEqual(guide, kustomizationResources());
  });

  it('keeps every object of the guide, in the namespace ai-ml-lab-2-2, and adds the three backends', () => {
    for (const o of base) assert.ok(objects.some((r) => key(r) === key(o)), `${key(o)} is missing from the overlay`);
    for (const name of BACKENDS) {
      findObject(objects, 'Deployment', name);
      findObject(objects, 'Service', name);
    }
    for (const o of objects) if (o.kind !== 'Namespace') assert.equal(o.metadata.namespace, NAMESPACE, key(o));
    assert.equal(new Set(objects.map(key)).size, objects.length, 'an object is defined twice');
  });

  it('leaves the guide objects it does not need to change exactly as the guide has them', () => {
    const changed = new Set([
      `ConfigMap/${NAMESPACE}/otel-collector-config`,
      `ConfigMap/${NAMESPACE}/${APP}-env`,
      `Deployment/${NAMESPACE}/${COLLECTOR}`,
      `Deployment/${NAMESPACE}/${APP}`,
      `Service/${NAMESPACE}/${COLLECTOR}`,
      `NetworkPolicy/${NAMESPACE}/${COLLECTOR}`,
      `ResourceQuota/${NAMESPACE}/ai-ml-lab-2-2-quota`,
    ]);
    for (const o of base) {
      if (changed.has(key(o))) continue;
      assert.deepEqual(objects.find((r) => key(r) === key(o)), o, `${key(o)} differs from the guide's`);
    }
  });

  for (const obj of objects) {
    it(`${key(obj)} validates against the Kubernetes schema and carries the app.kubernetes.io labels`, () => {
      validateSchema(obj, MODELS);
      for (const label of ['app.kubernetes.io/name', 'app.kubernetes.io/part-of', 'app.kubernetes.io/managed-by']) {
        assert.ok(obj.metadata.labels?.[label], `lacks ${label}`);
      }
    });
  }

  it('gives every pod the app and app.kubernetes.io labels, a unique app label, and matching selectors', () => {
    const apps = new Set<string>();
    for (const d of deployments(objects)) {
      const labels = d.spec?.template.metadata?.labels ?? {};
      assert.equal(labels.app, d.metadata?.name);
      for (const l of ['app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/component', 'app.kubernetes.io/part-of']) {
        assert.ok(labels[l], `${d.metadata?.name} pods lack ${l}`);
      }
      for (const [k, v] of Object.entries(d.spec?.selector.matchLabels ?? {})) assert.equal(labels[k], v);
      assert.ok(!apps.has(labels.app!), `two Deployments label their pods app=${labels.app}`);
      apps.add(labels.app!);
    }
  });

  it('runs every pod under the restricted Pod Security profile, read-only, with resources and probes', () => {
    for (const d of deployments(objects)) {
      const pod = d.spec!.template.spec!;
      assert.deepEqual(restrictedViolations(pod), [], d.metadata?.name);
      assert.equal(pod.automountServiceAccountToken, false, `${d.metadata?.name} mounts an API token it never uses`);
      for (const c of pod.containers) {
        assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${c.name}: writable root filesystem`);
        for (const kind of ['requests', 'limits'] as const) {
          for (const res of ['cpu', 'memory'] as const) assert.ok(c.resources?.[kind]?.[res], `${c.name}: no ${kind}.${res}`);
        }
        for (const probe of [c.readinessProbe, c.livenessProbe]) {
          assert.ok(probe?.httpGet, `${c.name}: readiness and liveness must be HTTP GETs`);
          assert.ok(resolvePort(c, probe.httpGet.port), `${c.name}: probe port ${probe.httpGet.port} is no container port`);
        }
      }
    }
  });

  it('pins every image by an explicit version tag, the one its app.kubernetes.io/version label names', () => {
    for (const d of deployments(objects)) {
      const image = onlyContainer(d).image ?? '';
      const m = /^([a-z0-9./-]+):(v?\d+\.\d+\.\d+|v\d+)$/.exec(image);
      assert.ok(m, `${d.metadata?.name}: image ${image} is not pinned to a version tag`);
      assert.equal(d.spec?.template.metadata?.labels?.['app.kubernetes.io/version'], m[2], `${d.metadata?.name} version label`);
      assert.equal(onlyContainer(d).imagePullPolicy, 'IfNotPresent');
    }
  });

  it('selects with every Service the pods of exactly one Deployment, on container ports of the same protocol', () => {
    for (const svc of objects.filter((o) => o.kind === 'Service').map((o) => service(objects, o.metadata.name))) {
      const selector = svc.spec?.selector ?? {};
      assert.ok(Object.keys(selector).length > 0, `${svc.metadata?.name} has no selector`);
      const selected = deployments(objects).filter((d) => Object.entries(selector).every(([k, v]) => d.spec?.template.metadata?.labels?.[k] === v));
      assert.equal(selected.length, 1, `${svc.metadata?.name} selects ${selected.length} Deployments`);
      const c = onlyContainer(selected[0]!);
      for (const p of svc.spec?.ports ?? []) {
        const target = resolvePort(c, p.targetPort ?? p.port);
        const cp = c.ports?.find((x) => x.containerPort === target);
        assert.ok(cp, `${svc.metadata?.name}: targetPort ${p.targetPort} is no port of ${c.name}`);
        assert.equal(cp.protocol ?? 'TCP', p.protocol ?? 'TCP');
      }
    }
  });

  it('mounts only ConfigMaps that exist, at paths the command line reads', () => {
    for (const d of deployments(objects)) {
      const spec = d.spec!.template.spec!;
      const c = onlyContainer(d);
      const volumes = new Map((spec.volumes ?? []).map((v) => [v.name, v]));
      for (const m of c.volumeMounts ?? []) assert.ok(volumes.has(m.name), `${d.metadata?.name}: no volume ${m.name}`);
      for (const v of volumes.values()) {
        if (v.configMap) {
          configMap(objects, v.configMap.name ?? '');
          assert.ok((c.volumeMounts ?? []).some((m) => m.name === v.name), `${d.metadata?.name}: volume ${v.name} is never mounted`);
        }
      }
      // Every file argument (--config=..., --config.file=...) is a key of the ConfigMap mounted at its folder.
      for (const arg of c.args ?? []) {
        const file = /^--config(?:\.file)?=(.+)$/.exec(arg)?.[1];
        if (!file) continue;
        const mount = (c.volumeMounts ?? []).find((m) => file.startsWith(m.mountPath.replace(/\/?$/, '/')));
        assert.ok(mount, `${d.metadata?.name}: nothing is mounted where ${file} is`);
        const cm = configMap(objects, volumes.get(mount.name)?.configMap?.name ?? '');
        assert.ok(file.slice(mount.mountPath.replace(/\/?$/, '/').length) in (cm.data ?? {}), `${cm.metadata?.name} has no file for ${file}`);
      }
    }
  });

  it('fits every Deployment, surging during a rolling update, and every Service and ConfigMap in the raised quota', () => {
    const quota = findObject(objects, 'ResourceQuota', 'ai-ml-lab-2-2-quota') as unknown as { spec: { hard: Record<string, string> } };
    const max = (findObject(objects, 'LimitRange', 'ai-ml-lab-2-2-limits') as unknown as { spec: { limits: { type: string; max?: Record<string, string> }[] } })
      .spec.limits.find((l) => l.type === 'Container')?.max ?? {};
    const total: Record<string, number> = { 'requests.cpu': 0, 'requests.memory': 0, 'limits.cpu': 0, 'limits.memory': 0, pods: 0 };
    for (const d of deployments(objects)) {
      const peak = (d.spec?.replicas ?? 1) + surge(d);
      total.pods! += peak;
      for (const c of d.spec!.template.spec!.containers) {
        for (const kind of ['requests', 'limits'] as const) {
          for (const res of ['cpu', 'memory'] as const) {
            const v = quantity(c.resources?.[kind]?.[res]);
            total[`${kind}.${res}`]! += peak * v;
            if (max[res] !== undefined) assert.ok(v <= quantity(max[res]), `${c.name} ${kind}.${res} exceeds the LimitRange`);
          }
        }
      }
    }
    total.services = objects.filter((o) => o.kind === 'Service').length;
    // kube-root-ca.crt: Kubernetes puts it in every namespace and the quota counts it.
    total.configmaps = objects.filter((o) => o.kind === 'ConfigMap').length + 1;
    for (const [k, used] of Object.entries(total)) {
      const hard = quota.spec.hard[k];
      assert.ok(hard !== undefined, `the quota does not cap ${k}`);
      assert.ok(used <= quantity(hard), `${k}: ${used} needed at peak > quota ${hard}`);
    }
  });

  it('states in the quota comment the sums that the test computes', () => {
    const comment = readOverlayFile('quota-patch.yaml');
    for (const expected of ['= 1200m', '= 1536Mi', '= 3500m', '= 3328Mi', '= 7', '= 6', '= 8']) assert.ok(comment.includes(expected), expected);
  });

  it('lets Prometheus reach the Collector on 8889 through the NetworkPolicy, and keeps the guide ports', () => {
    const np = findObject(objects, 'NetworkPolicy', COLLECTOR) as unknown as { spec: { ingress: { ports: { port: number }[] }[] } };
    const ports = np.spec.ingress.flatMap((i) => i.ports.map((p) => p.port));
    assert.deepEqual(ports.sort((a, b) => a - b), [4317, 4318, 8889, 13133]);
    const numeric = (a: number, b: number) => a - b;
    assert.deepEqual(service(objects, COLLECTOR).spec?.ports?.map((p) => p.port).sort(numeric), [4317, 4318, 8889]);
    assert.deepEqual(onlyContainer(deployment(objects, COLLECTOR)).ports?.map((p) => p.containerPort).sort(numeric), [4317, 4318, 8889, 13133]);
  });

  it('sets GOMEMLIMIT to about 80 % of the memory limit of every Go backend', () => {
    for (const name of [COLLECTOR, 'jaeger']) {
      const c = onlyContainer(deployment(objects, name));
      const m = /^(\d+)MiB$/.exec(c.env?.find((e) => e.name === 'GOMEMLIMIT')?.value ?? '');
      assert.ok(m, `${name}: GOMEMLIMIT in MiB`);
      const ratio = (Number(m[1]) * 2 ** 20) / quantity(c.resources?.limits?.memory);
      assert.ok(ratio >= 0.75 && ratio <= 0.85, `${name}: GOMEMLIMIT is ${(ratio * 100).toFixed(1)} % of the limit`);
    }
  });

  it('serves the service /metrics on the port of its environment, selected by the headless metrics Service', (t) => {
    const c = onlyContainer(deployment(objects, APP));
    const env = containerEnvironment(c, objects);
    assert.equal(resolvePort(c, 'metrics'), Number(env.OTEL_EXPORTER_PROMETHEUS_PORT));
    assert.equal(env.OTEL_EXPORTER_PROMETHEUS_HOST, '0.0.0.0');
    assert.deepEqual(env.OTEL_METRICS_EXPORTER?.split(','), ['otlp', 'prometheus']);
    const headless = service(objects, `${APP}-metrics`);
    assert.equal(headless.spec?.clusterIP, 'None');
    assert.deepEqual(headless.spec?.ports?.map((p) => p.port), [Number(env.OTEL_EXPORTER_PROMETHEUS_PORT)]);
    if (!KNOWN_VARIABLES.includes('OTEL_EXPORTER_PROMETHEUS_PORT')) {
      return t.skip('src/shared/config.ts does not read OTEL_EXPORTER_PROMETHEUS_* yet (branch obsmetrics)');
    }
    assert.deepEqual(Object.keys(env).filter((k) => !KNOWN_VARIABLES.includes(k)), []);
    parseConfig(env);
  });
});
