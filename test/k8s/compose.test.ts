// compose.yaml runs the observability stack with Docker alone. No Docker here: these checks hold it to the overlay
// it mirrors (same images, same mounted files at the same paths, same arguments, environment, users and limits).
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join, normalize } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { APP, ROOT, containerEnvironment, kubectlAvailable, onlyContainer, quantity, type K8sObject } from './helpers/manifests.ts';
import { deployments, hostPort, parseOverlayYaml, readRepoFile, renderOverlay, type CollectorConfig } from './helpers/overlay.ts';

interface ComposeService {
  image: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  user?: string;
  read_only?: boolean;
  cap_drop?: string[];
  security_opt?: string[];
  stop_grace_period?: string;
  networks?: { default?: { aliases?: string[] } };
  deploy?: { resources?: { limits?: { cpus?: string; memory?: string } } };
}
const compose = parse(readRepoFile('compose.yaml')) as { services: Record<string, ComposeService>; volumes?: Record<string, unknown> };
const objects: K8sObject[] = kubectlAvailable() ? renderOverlay() : [];
const skipWithoutKubectl = { skip: kubectlAvailable() ? false : 'kubectl is not installed' };

/** The repository file behind each ConfigMap key, from the overlay's configMapGenerator. */
function generatorSources(): Map<string, string> {
  const k = parseOverlayYaml<{ configMapGenerator: { name: string; files: string[] }[] }>('kustomization.yaml');
  const out = new Map<string, string>();
  for (const g of k.configMapGenerator) {
    for (const f of g.files) {
      const [keyName, path] = f.includes('=') ? f.split('=') : [f.split('/').at(-1)!, f];
      out.set(`${g.name}/${keyName}`, normalize(join('k8s/overlays/observability', path!)));
    }
  }
  return out;
}

/** For a Deployment: repository file -> path in the container, through ConfigMap volumes and the generator. */
function k8sFileMounts(name: string): Map<string, string> {
  const d = deployments(objects).find((x) => x.metadata?.name === name)!;
  const sources = generatorSources();
  const out = new Map<string, string>();
  for (const v of d.spec!.template.spec!.volumes ?? []) {
    if (!v.configMap) continue;
    const mount = onlyContainer(d).volumeMounts!.find((m) => m.name === v.name)!;
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === v.configMap!.name) as unknown as { data: Record<string, string> };
    for (const keyName of Object.keys(cm.data)) {
      const source = sources.get(`${v.configMap.name}/${keyName}`);
      if (source) out.set(source, `${mount.mountPath}/${keyName}`);
    }
  }
  return out;
}

describe('compose.yaml runs the same stack as the observability overlay', skipWithoutKubectl, () => {
  it('has the service, the Collector, Jaeger, Prometheus and Grafana, as the overlay has Deployments', () => {
    assert.deepEqual(Object.keys(compose.services).sort(), deployments(objects).map((d) => d.metadata!.name!).sort());
  });

  it('uses the images the overlay pins, and builds only the service', () => {
    for (const d of deployments(objects)) {
      const s = compose.services[d.metadata!.name!]!;
      assert.equal(s.image, onlyContainer(d).image, d.metadata?.name);
      assert.equal(s.build !== undefined, d.metadata?.name === APP);
    }
  });

  it('mounts, read-only, the same repository files at the same container paths as the ConfigMaps', () => {
    for (const d of deployments(objects)) {
      const s = compose.services[d.metadata!.name!]!;
      const binds = new Map<string, string>();
      for (const v of s.volumes ?? []) {
        const [host, container, mode] = v.split(':');
        if (!host!.startsWith('./')) {
          assert.ok(compose.volumes && host! in compose.volumes, `named volume ${host} is not declared`);
          continue;
        }
        assert.equal(mode, 'ro', `${v} must be read-only`);
        assert.ok(existsSync(join(ROOT, host!)) && statSync(join(ROOT, host!)).isFile(), `${host} does not exist`);
        binds.set(normalize(host!), container!);
      }
      assert.deepEqual(binds, k8sFileMounts(d.metadata!.name!), d.metadata?.name);
    }
  });

  it('starts each container with the arguments, environment and user of its Deployment', () => {
    for (const d of deployments(objects)) {
      const name = d.metadata!.name!;
      const s = compose.services[name]!;
      const c = onlyContainer(d);
      assert.deepEqual(s.command ?? [], c.args ?? [], `${name} arguments`);
      assert.deepEqual(s.environment ?? {}, containerEnvironment(c, objects), `${name} environment`);
      const sc = d.spec!.template.spec!.securityContext!;
      assert.equal(s.user, `${sc.runAsUser}:${sc.runAsGroup}`, `${name} user`);
      assert.equal(s.read_only, true, `${name} read-only root filesystem`);
      assert.deepEqual(s.cap_drop, ['ALL']);
      assert.ok(s.security_opt?.includes('no-new-privileges:true'));
    }
  });

  it('limits CPU and memory as the Deployments do', () => {
    for (const d of deployments(objects)) {
      const s = compose.services[d.metadata!.name!]!;
      const limits = onlyContainer(d).resources!.limits!;
      assert.equal(Number(s.deploy?.resources?.limits?.cpus), quantity(limits.cpu), `${d.metadata?.name} cpus`);
      // Docker's M is MiB.
      const m = /^(\d+)M$/.exec(s.deploy?.resources?.limits?.memory ?? '');
      assert.ok(m, `${d.metadata?.name}: memory limit in M`);
      assert.equal(Number(m[1]) * 2 ** 20, quantity(limits.memory), `${d.metadata?.name} memory`);
    }
  });

  it('publishes only on 127.0.0.1: the service on 9002 (the guide port-forward), and the three UIs on their own ports', () => {
    const published = Object.entries(compose.services).flatMap(([name, s]) => (s.ports ?? []).map((p) => `${name} ${p}`));
    assert.deepEqual(published.sort(), [
      'ai-lab-2-2-paid 127.0.0.1:9002:9000',
      'grafana 127.0.0.1:3000:3000',
      'jaeger 127.0.0.1:16686:16686',
      'prometheus 127.0.0.1:9090:9090',
    ]);
  });

  it('resolves every host name the mounted configuration files use to a compose service or alias', () => {
    const names = new Set(Object.entries(compose.services).flatMap(([n, s]) => [n, ...(s.networks?.default?.aliases ?? [])]));
    const collector = parseOverlayYaml<CollectorConfig>('collector/config.yaml');
    const prom = parseOverlayYaml<{ scrape_configs: { static_configs?: { targets: string[] }[]; dns_sd_configs?: { names: string[] }[] }[] }>('prometheus/prometheus.yml');
    const datasources = parseOverlayYaml<{ datasources: { url: string }[] }>('grafana/datasources.yaml').datasources;
    const hosts = [
      hostPort(collector.exporters!['otlp_grpc/jaeger'].endpoint).host,
      ...prom.scrape_configs.flatMap((s) => (s.static_configs ?? []).flatMap((c) => c.targets.map((t) => hostPort(t).host))),
      ...prom.scrape_configs.flatMap((s) => (s.dns_sd_configs ?? []).flatMap((c) => c.names)),
      ...datasources.map((d) => hostPort(d.url).host),
      hostPort(containerEnvironment(onlyContainer(deployments(objects).find((d) => d.metadata?.name === APP)!), objects).OTEL_EXPORTER_OTLP_ENDPOINT!).host,
    ].filter((h) => h !== 'localhost');
    assert.ok(hosts.length >= 5);
    for (const h of hosts) assert.ok(names.has(h), `${h} is not a compose service or alias`);
  });

  it('gives the service as long to drain on stop as the pod gets on Kubernetes', () => {
    const app = deployments(objects).find((d) => d.metadata?.name === APP)!;
    const grace = Number(/^(\d+)s$/.exec(compose.services[APP]!.stop_grace_period ?? '')?.[1]);
    assert.equal(grace, app.spec!.template.spec!.terminationGracePeriodSeconds);
  });

});
