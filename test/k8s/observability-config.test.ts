// The configuration files of the observability stack (Collector, Jaeger, Prometheus, Grafana), checked against each
// other and against the rendered overlay: every component a pipeline names exists, sampling is what the docs say,
// and every host:port a file names is a Service port that reaches a container port.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import { COLLECTOR, configMap, deployment, kubectlAvailable, onlyContainer, service, type K8sObject } from './helpers/manifests.ts';
import {
  OVERLAY_DIR,
  hostPort,
  parseOverlayYaml,
  readOverlayFile,
  renderDir,
  renderOverlay,
  resolvePort,
  typeOf,
  type CollectorConfig,
} from './helpers/overlay.ts';

// Component types of otel/opentelemetry-collector-contrib 0.149.0 that the stack uses (datadog only in the optional
// component). `otlp_grpc` is the OTLP/gRPC exporter's name since v0.144.0.
const CONTRIB_0_149 = {
  receivers: ['otlp'],
  processors: ['memory_limiter', 'batch', 'tail_sampling'],
  exporters: ['debug', 'otlp_grpc', 'otlp_http', 'prometheus', 'datadog'],
  connectors: ['spanmetrics'],
  extensions: ['health_check'],
} as const;
type Kind = keyof typeof CONTRIB_0_149;
const SLO_P99_MS = 200;
const REQUEST_RATE_ALERT_PER_S = 1000;

const objects: K8sObject[] = kubectlAvailable() ? renderOverlay() : [];
const skipWithoutKubectl = { skip: kubectlAvailable() ? false : 'kubectl is not installed' };
const collector = parseOverlayYaml<CollectorConfig>('collector/config.yaml');
const jaeger = parseOverlayYaml<CollectorConfig>('jaeger/config.yaml');

const seconds = (d: string): number => {
  const m = /^(\d+)(ms|s|m)$/.exec(d);
  assert.ok(m, `duration ${d}`);
  return Number(m[1]) / ({ ms: 1000, s: 1, m: 1 / 60 } as const)[m[2] as 'ms' | 's' | 'm'];
};

/** Asserts that `host:port` is a Service of the overlay whose port reaches a container port; returns the container port. */
function reachable(address: string): number {
  const { host, port } = hostPort(address);
  const svc = service(objects, host);
  const p = svc.spec?.ports?.find((x) => x.port === port);
  assert.ok(p, `Service ${host} has no port ${port}`);
  const d = deployment(objects, Object.values(svc.spec?.selector ?? {})[0] ?? '');
  const target = resolvePort(onlyContainer(d), p.targetPort ?? p.port);
  assert.ok(target, `${host}:${port} reaches no container port`);
  return target;
}

/** Every pipeline refers to defined components and every defined component is used (connectors on both ends). */
function assertPipelinesSound(config: CollectorConfig, kinds: readonly Kind[]): void {
  const used = new Map<string, Set<string>>(kinds.map((k) => [k, new Set<string>()]));
  const connectors = config.connectors ?? {};
  const asExporter = new Set<string>();
  const asReceiver = new Set<string>();
  for (const [name, p] of Object.entries(config.service.pipelines)) {
    assert.ok(p.receivers.length > 0 && p.exporters.length > 0, `pipeline ${name} needs a receiver and an exporter`);
    for (const id of p.receivers) {
      if (id in connectors) asReceiver.add(id);
      else assert.ok(id in (config.receivers ?? {}), `pipeline ${name}: receiver ${id} is not defined`);
      used.get(id in connectors ? 'connectors' : 'receivers')?.add(id);
    }
    for (const id of p.processors ?? []) {
      assert.ok(id in (config.processors ?? {}), `pipeline ${name}: processor ${id} is not defined`);
      used.get('processors')?.add(id);
    }
    for (const id of p.exporters) {
      if (id in connectors) asExporter.add(id);
      else assert.ok(id in (config.exporters ?? {}), `pipeline ${name}: exporter ${id} is not defined`);
      used.get(id in connectors ? 'connectors' : 'exporters')?.add(id);
    }
  }
  for (const id of Object.keys(connectors)) assert.ok(asExporter.has(id) && asReceiver.has(id), `connector ${id} must end one pipeline and start another`);
  for (const id of config.service.extensions ?? []) assert.ok(id in (config.extensions ?? {}), `extension ${id} is not defined`);
  for (const id of config.service.extensions ?? []) used.get('extensions')?.add(id);
  for (const kind of kinds) {
    for (const id of Object.keys((config as unknown as Record<string, Record<string, unknown> | undefined>)[kind] ?? {})) {
      assert.ok(used.get(kind)!.has(id), `${kind} ${id} is defined but unused`);
    }
  }
}

describe('the Collector configuration of the stack', skipWithoutKubectl, () => {
  it('is what the otel-collector-config ConfigMap of the overlay holds, under the key the Collector reads', () => {
    assert.deepEqual(Object.keys(configMap(objects, 'otel-collector-config').data ?? {}), ['config.yaml']);
    assert.deepEqual(parse(configMap(objects, 'otel-collector-config').data!['config.yaml']!), collector);
  });

  it('has traces, metrics and logs pipelines whose components are all defined and all used', () => {
    assert.deepEqual([...new Set(Object.keys(collector.service.pipelines).map(typeOf))].sort(), ['logs', 'metrics', 'traces']);
    assertPipelinesSound(collector, ['receivers', 'processors', 'exporters', 'connectors', 'extensions']);
  });

  it('uses only component types of contrib 0.149.0, under their current names', () => {
    for (const kind of Object.keys(CONTRIB_0_149) as Kind[]) {
      for (const id of Object.keys((collector as unknown as Record<string, Record<string, unknown> | undefined>)[kind] ?? {})) {
        assert.ok((CONTRIB_0_149[kind] as readonly string[]).includes(typeOf(id)), `${kind} type ${typeOf(id)}`);
      }
    }
    for (const removed of ['logging', 'jaeger', 'otlp', 'otlphttp']) assert.ok(!Object.keys(collector.exporters ?? {}).map(typeOf).includes(removed), removed);
  });

  it('runs memory_limiter first in every pipeline and batch, where present, after sampling', () => {
    for (const [name, p] of Object.entries(collector.service.pipelines)) {
      const types = (p.processors ?? []).map(typeOf);
      assert.equal(types[0], 'memory_limiter', `pipeline ${name}`);
      if (types.includes('batch') && types.includes('tail_sampling')) assert.ok(types.indexOf('tail_sampling') < types.indexOf('batch'), name);
    }
  });

  it('keeps every error, every trace slower than the 200 ms SLO and a probabilistic share of the rest', () => {
    const ts = collector.processors?.tail_sampling;
    const byType = new Map<string, any>((ts.policies as { name: string; type: string }[]).map((p) => [p.type, p]));
    assert.deepEqual([...byType.keys()].sort(), ['latency', 'probabilistic', 'status_code']);
    assert.deepEqual(byType.get('status_code').status_code.status_codes, ['ERROR']);
    assert.equal(byType.get('latency').latency.threshold_ms, SLO_P99_MS);
    assert.equal(byType.get('latency').latency.upper_threshold_ms, undefined);
    const pct = byType.get('probabilistic').probabilistic.sampling_percentage;
    assert.ok(pct > 0 && pct < 100, `sampling_percentage ${pct}`);
  });

  it('bounds the decision wait and the traces held, with room for the request-rate alert threshold', () => {
    const ts = collector.processors?.tail_sampling;
    const wait = seconds(ts.decision_wait);
    assert.ok(wait >= 1 && wait <= 30, `decision_wait ${ts.decision_wait}`);
    assert.ok(Number.isInteger(ts.num_traces) && ts.num_traces <= 50_000, `num_traces ${ts.num_traces}`);
    assert.ok(ts.num_traces >= wait * REQUEST_RATE_ALERT_PER_S, 'num_traces must hold decision_wait seconds of traffic at 1000 req/s');
    assert.ok(ts.decision_cache?.sampled_cache_size > 0 && ts.decision_cache?.non_sampled_cache_size > 0, 'late spans need the decision caches');
  });

  it('samples only the traces that go to Jaeger: span metrics are computed from every span, before sampling', () => {
    const pipelines = Object.entries(collector.service.pipelines);
    const toJaeger = pipelines.filter(([, p]) => p.exporters.some((e) => e.startsWith('otlp_grpc/jaeger')));
    assert.equal(toJaeger.length, 1);
    assert.ok(toJaeger[0]![1].processors?.some((x) => typeOf(x) === 'tail_sampling'), 'the Jaeger pipeline samples');
    const feedingSpanmetrics = pipelines.filter(([, p]) => p.exporters.includes('spanmetrics'));
    assert.equal(feedingSpanmetrics.length, 1);
    const [, p] = feedingSpanmetrics[0]!;
    assert.deepEqual(p.receivers, ['otlp'], 'spanmetrics reads what the SDK sent');
    assert.ok(!(p.processors ?? []).some((x) => ['tail_sampling', 'probabilistic_sampler'].includes(typeOf(x))), 'no sampling before spanmetrics');
    assert.ok(Object.values(collector.service.pipelines).some((q) => q.receivers.includes('spanmetrics') && q.exporters.includes('prometheus')));
    assert.ok(collector.service.pipelines.metrics?.receivers.includes('otlp'), "the service's own metrics reach Prometheus");
  });

  it('exports to the Jaeger Service on the port Jaeger receives OTLP/gRPC on', () => {
    const e = collector.exporters?.['otlp_grpc/jaeger'];
    assert.equal(e.tls?.insecure, true);
    assert.equal(reachable(e.endpoint), hostPort(jaeger.receivers?.otlp.protocols.grpc.endpoint).port);
  });

  it('serves the prometheus exporter and health_check on 0.0.0.0, on ports of the container and the Service', () => {
    const c = onlyContainer(deployment(objects, COLLECTOR));
    const prom = hostPort(collector.exporters?.prometheus.endpoint);
    assert.equal(prom.host, '0.0.0.0');
    assert.equal(resolvePort(c, 'prom-metrics'), prom.port);
    assert.equal(reachable(`otel-collector:${prom.port}`), prom.port);
    const health = hostPort(collector.extensions?.health_check.endpoint);
    for (const probe of [c.readinessProbe, c.livenessProbe]) assert.equal(resolvePort(c, probe?.httpGet?.port), health.port);
    assert.equal(collector.receivers?.otlp.protocols.grpc.endpoint, '0.0.0.0:4317');
  });
});

describe('the Jaeger configuration', skipWithoutKubectl, () => {
  it('has a sound pipeline into bounded in-memory storage that the query extension reads', () => {
    assertPipelinesSound(jaeger, ['receivers', 'processors', 'exporters', 'extensions']);
    const backends = Object.keys(jaeger.extensions?.jaeger_storage.backends ?? {});
    assert.deepEqual(backends, [jaeger.extensions?.jaeger_query.storage.traces]);
    assert.equal(jaeger.exporters?.jaeger_storage_exporter.trace_storage, backends[0]);
    const max = jaeger.extensions?.jaeger_storage.backends[backends[0]!].memory.max_traces;
    assert.ok(max > 0 && max <= 50_000, `max_traces ${max}`);
  });

  it('listens on the ports its Service and probes use', () => {
    const c = onlyContainer(deployment(objects, 'jaeger'));
    assert.equal(reachable(`jaeger:16686`), hostPort(jaeger.extensions?.jaeger_query.http.endpoint).port);
    const health = jaeger.extensions?.healthcheckv2.http;
    for (const probe of [c.readinessProbe, c.livenessProbe]) {
      assert.equal(resolvePort(c, probe?.httpGet?.port), hostPort(health.endpoint).port);
      assert.equal(probe?.httpGet?.path, health.status.path);
    }
    for (const e of [jaeger.receivers?.otlp.protocols.grpc.endpoint, jaeger.extensions?.jaeger_query.http.endpoint, health.endpoint]) {
      assert.equal(hostPort(e).host, '0.0.0.0', `${e} is not reachable from other pods`);
    }
  });
});

interface PromConfig {
  rule_files: string[];
  scrape_configs: {
    job_name: string;
    honor_labels?: boolean;
    static_configs?: { targets: string[] }[];
    dns_sd_configs?: { names: string[]; type: string; port: number }[];
  }[];
}

describe('the Prometheus configuration', skipWithoutKubectl, () => {
  const prom = parseOverlayYaml<PromConfig>('prometheus/prometheus.yml');

  it('passes promtool check config, rule files included', (t) => {
    if (spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status !== 0) return t.skip('promtool is not installed (Debian package prometheus)');
    const r = spawnSync('promtool', ['check', 'config', join(OVERLAY_DIR, 'prometheus/prometheus.yml')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  it('is mounted with its rule files from one ConfigMap, where --config.file points', () => {
    const c = onlyContainer(deployment(objects, 'prometheus'));
    assert.ok(c.args?.includes('--config.file=/etc/prometheus/prometheus.yml'));
    const keys = Object.keys(configMap(objects, 'prometheus-config').data ?? {});
    for (const f of ['prometheus.yml', ...prom.rule_files]) assert.ok(keys.includes(f), `prometheus-config lacks ${f}`);
  });

  it('scrapes the Collector exporter with honor_labels, through its Service', () => {
    const job = prom.scrape_configs.find((s) => s.job_name === 'otel-collector');
    assert.equal(job?.honor_labels, true, 'job and instance must come from the OTel resource');
    const targets = job!.static_configs!.flatMap((s) => s.targets);
    assert.deepEqual(targets.map((t) => reachable(t)), [hostPort(collector.exporters?.prometheus.endpoint).port]);
    const relabel = (job as unknown as { metric_relabel_configs?: { regex: string; action: string }[] }).metric_relabel_configs ?? [];
    assert.ok(relabel.some((r) => r.action === 'labeldrop' && new RegExp(`^(?:${r.regex})$`).test('otel_scope_name')), 'the labels equal those of the service /metrics');
  });

  it('finds every service pod through the headless Service, on the /metrics port, keeping only up', () => {
    const job = prom.scrape_configs.find((s) => s.job_name === 'ai-inference-service');
    const sd = job?.dns_sd_configs?.[0];
    assert.ok(sd && sd.type === 'A');
    const svc = service(objects, sd.names[0]!);
    assert.equal(svc.spec?.clusterIP, 'None', 'an A lookup must return every pod, not a virtual IP');
    assert.equal(svc.spec?.publishNotReadyAddresses, true, 'an unready pod must stay a target, with up == 0');
    assert.equal(reachable(`${sd.names[0]}:${sd.port}`), sd.port);
    assert.deepEqual((job as unknown as { metric_relabel_configs: unknown[] }).metric_relabel_configs, [{ source_labels: ['__name__'], regex: '.+', action: 'drop' }]);
  });
});

describe('the Grafana provisioning', skipWithoutKubectl, () => {
  const datasources = parseOverlayYaml<{ datasources: { uid: string; type: string; url: string }[] }>('grafana/datasources.yaml').datasources;
  const providers = parseOverlayYaml<{ providers: { options: { path: string } }[] }>('grafana/dashboards.yaml').providers;
  const c = kubectlAvailable() ? onlyContainer(deployment(objects, 'grafana')) : undefined;
  const mountOf = (configMapName: string) => {
    const volume = deployment(objects, 'grafana').spec!.template.spec!.volumes!.find((v) => v.configMap?.name === configMapName);
    return c!.volumeMounts!.find((m) => m.name === volume?.name)?.mountPath;
  };

  it('provides the Prometheus and Jaeger data sources under the uids the dashboard uses, at their Services', () => {
    assert.deepEqual(datasources.map((d) => [d.uid, d.type]), [['prometheus', 'prometheus'], ['jaeger', 'jaeger']]);
    assert.equal(reachable(datasources[0]!.url), 9090);
    assert.equal(reachable(datasources[1]!.url), hostPort(jaeger.extensions?.jaeger_query.http.endpoint).port);
  });

  it('mounts the data sources, the dashboard provider and the dashboards where Grafana reads them', () => {
    assert.equal(mountOf('grafana-datasources'), '/etc/grafana/provisioning/datasources');
    assert.equal(mountOf('grafana-dashboard-providers'), '/etc/grafana/provisioning/dashboards');
    assert.equal(mountOf('grafana-dashboards'), providers[0]!.options.path);
    const home = c!.env?.find((e) => e.name === 'GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH')?.value ?? '';
    assert.ok(home.startsWith(providers[0]!.options.path + '/'));
    assert.ok(home.slice(providers[0]!.options.path.length + 1) in (configMap(objects, 'grafana-dashboards').data ?? {}));
  });

  it('ships every dashboard JSON of the folder, each referring only to provisioned data sources', () => {
    const files = readdirSync(join(OVERLAY_DIR, 'grafana/dashboards')).filter((f) => f.endsWith('.json')).sort();
    assert.deepEqual(Object.keys(configMap(objects, 'grafana-dashboards').data ?? {}).sort(), files);
    const uids = new Set(datasources.map((d) => d.uid));
    const visit = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(visit);
      else if (node && typeof node === 'object') {
        const ds = (node as { datasource?: { uid?: string } }).datasource;
        if (ds && typeof ds === 'object' && typeof ds.uid === 'string' && !ds.uid.startsWith('$') && !ds.uid.startsWith('-- ')) {
          assert.ok(uids.has(ds.uid), `a panel uses data source uid ${ds.uid}`);
        }
        Object.values(node).forEach(visit);
      }
    };
    for (const f of files) visit(JSON.parse(readOverlayFile(`grafana/dashboards/${f}`)));
  });
});

describe('the optional Datadog component', skipWithoutKubectl, () => {
  const dir = mkdtempSync(join(tmpdir(), 'datadog-overlay-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is not part of the default overlay', () => {
    const k = parseOverlayYaml<{ components?: string[] }>('kustomization.yaml');
    assert.ok(!(k.components ?? []).includes('datadog'));
    assert.ok(!objects.some((o) => o.metadata.name.includes('datadog')));
  });

  it('adds a datadog exporter to every pipeline that already exports, with the key from a Secret', () => {
    writeFileSync(
      join(dir, 'kustomization.yaml'),
      `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ${relative(dir, OVERLAY_DIR)}\ncomponents:\n  - ${relative(dir, join(OVERLAY_DIR, 'datadog'))}\n`,
    );
    const rendered = renderDir(dir);
    const c = onlyContainer(deployment(rendered, COLLECTOR));
    const key = c.env?.find((e) => e.name === 'DD_API_KEY');
    assert.ok(key?.valueFrom?.secretKeyRef?.name && key.valueFrom.secretKeyRef.key, 'DD_API_KEY comes from a Secret');
    assert.ok(!rendered.some((o) => o.kind === 'Secret'), 'the Secret is created by the user, never committed');
    // The Collector merges its --config files in order: maps merge, lists are replaced by the later file.
    const files = (c.args ?? []).map((a) => /^--config=(.+)$/.exec(a)?.[1]).filter((f): f is string => f !== undefined);
    assert.equal(files.length, 2);
    const volumes = deployment(rendered, COLLECTOR).spec!.template.spec!.volumes!;
    const load = (file: string): CollectorConfig => {
      const m = c.volumeMounts!.find((v) => file.startsWith(v.mountPath + '/'))!;
      const cm = configMap(rendered, volumes.find((v) => v.name === m.name)!.configMap!.name!);
      return parse(cm.data![file.slice(m.mountPath.length + 1)]!) as CollectorConfig;
    };
    const [first, second] = files.map(load) as [CollectorConfig, CollectorConfig];
    const merged = structuredClone(first);
    merged.exporters = { ...first.exporters, ...second.exporters };
    for (const [name, p] of Object.entries(second.service.pipelines)) merged.service.pipelines[name] = { ...first.service.pipelines[name]!, ...p };
    assertPipelinesSound(merged, ['receivers', 'processors', 'exporters', 'connectors', 'extensions']);
    for (const [name, p] of Object.entries(first.service.pipelines)) {
      if (p.exporters.includes('spanmetrics')) continue;
      assert.deepEqual(merged.service.pipelines[name]!.exporters, [...p.exporters, 'datadog'], `pipeline ${name} keeps its exporters and adds datadog`);
    }
    assert.equal(merged.exporters?.datadog.api.key, '${env:DD_API_KEY}');
    assert.ok(existsSync(join(OVERLAY_DIR, 'datadog/kustomization.yaml')));
  });
});
