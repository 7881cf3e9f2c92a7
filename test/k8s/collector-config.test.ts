import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { COLLECTOR, COLLECTOR_CONFIG, configMap, deployment, loadObjects, onlyContainer, quantity, service } from './helpers/manifests.ts';

// Component types that otel/opentelemetry-collector-contrib 0.149.0 includes and that this config may use (all but
// health_check come from the core distribution; the batch processor is not deprecated in this release).
// Keep the list in step with the image tag, which the first test checks.
const PINNED_RELEASE = '0.149.0';
const CONTRIB_COMPONENTS = {
  receivers: ['otlp'],
  processors: ['memory_limiter', 'batch'],
  exporters: ['debug', 'otlp', 'otlphttp'],
  extensions: ['health_check'],
} as const;
type Kind = keyof typeof CONTRIB_COMPONENTS;

interface CollectorConfig {
  receivers?: Record<string, unknown>;
  processors?: Record<string, unknown>;
  exporters?: Record<string, { verbosity?: string } | null>;
  extensions?: Record<string, { endpoint?: string; path?: string } | null>;
  service: {
    extensions?: string[];
    pipelines: Record<string, { receivers: string[]; processors?: string[]; exporters: string[] }>;
  };
}

const objects = loadObjects();
const data = configMap(objects, COLLECTOR_CONFIG).data ?? {};
const [configKey] = Object.keys(data);
const config = parse(data[configKey!] ?? '') as CollectorConfig;
const container = onlyContainer(deployment(objects, COLLECTOR));
const typeOf = (id: string) => id.split('/')[0]!;

describe('the Collector configuration is sound', () => {
  it('uses the contrib image of the pinned release', () => {
    assert.equal(container.image, `otel/opentelemetry-collector-contrib:${PINNED_RELEASE}`);
  });

  it('has a traces, a metrics and a logs pipeline', () => {
    assert.deepEqual(Object.keys(config.service.pipelines).map(typeOf).sort(), ['logs', 'metrics', 'traces']);
  });

  it('references only components it defines, and defines none it does not use', () => {
    const used: Record<Kind, Set<string>> = { receivers: new Set(), processors: new Set(), exporters: new Set(), extensions: new Set(config.service.extensions ?? []) };
    for (const [name, p] of Object.entries(config.service.pipelines)) {
      for (const kind of ['receivers', 'processors', 'exporters'] as const) {
        for (const id of p[kind] ?? []) {
          assert.ok(id in (config[kind] ?? {}), `pipeline ${name} uses ${kind} ${id}, which is not defined`);
          used[kind].add(id);
        }
      }
      assert.ok(p.receivers.length > 0 && p.exporters.length > 0, `pipeline ${name} needs a receiver and an exporter`);
    }
    for (const id of config.service.extensions ?? []) assert.ok(id in (config.extensions ?? {}), `extension ${id} is not defined`);
    for (const kind of Object.keys(CONTRIB_COMPONENTS) as Kind[]) {
      for (const id of Object.keys(config[kind] ?? {})) assert.ok(used[kind].has(id), `${kind} ${id} is defined but unused`);
    }
  });

  it(`uses only component types that exist in contrib ${PINNED_RELEASE}`, () => {
    for (const kind of Object.keys(CONTRIB_COMPONENTS) as Kind[]) {
      for (const id of Object.keys(config[kind] ?? {})) {
        assert.ok((CONTRIB_COMPONENTS[kind] as readonly string[]).includes(typeOf(id)), `${kind} type ${typeOf(id)} is not in the allow-list`);
      }
    }
    // The guide's `logging` exporter was removed in v0.111.0.
    assert.ok(!('logging' in (config.exporters ?? {})));
  });

  it('runs memory_limiter first and batch second in every pipeline', () => {
    for (const [name, p] of Object.entries(config.service.pipelines)) {
      assert.deepEqual((p.processors ?? []).map(typeOf).slice(0, 2), ['memory_limiter', 'batch'], `pipeline ${name}`);
    }
  });

  it('prints everything it receives with the debug exporter at detailed verbosity', () => {
    for (const [name, p] of Object.entries(config.service.pipelines)) {
      assert.ok(p.exporters.some((id) => typeOf(id) === 'debug'), `pipeline ${name} has no debug exporter`);
    }
    for (const [id, e] of Object.entries(config.exporters ?? {})) if (typeOf(id) === 'debug') assert.equal(e?.verbosity, 'detailed');
  });

  it('binds the OTLP receiver on 0.0.0.0:4317 and 0.0.0.0:4318, the ports the container and the Service expose', () => {
    const otlp = (config.receivers?.otlp ?? {}) as { protocols?: { grpc?: { endpoint?: string }; http?: { endpoint?: string } } };
    assert.equal(otlp.protocols?.grpc?.endpoint, '0.0.0.0:4317');
    assert.equal(otlp.protocols?.http?.endpoint, '0.0.0.0:4318');
    const containerPorts = (container.ports ?? []).map((p) => p.containerPort);
    for (const port of [4317, 4318]) assert.ok(containerPorts.includes(port), `the container does not expose ${port}`);
    assert.deepEqual(service(objects, COLLECTOR).spec?.ports?.map((p) => p.port), [4317, 4318]);
  });

  it('binds health_check on 0.0.0.0:13133, which the liveness and readiness probes call', () => {
    const health = config.extensions?.health_check;
    assert.equal(health?.endpoint, '0.0.0.0:13133');
    assert.ok(config.service.extensions?.includes('health_check'), 'health_check is defined but not enabled');
    for (const probe of [container.livenessProbe, container.readinessProbe]) {
      assert.ok(probe?.httpGet, 'the Collector needs HTTP liveness and readiness probes');
      const port = probe.httpGet.port;
      const number = typeof port === 'number' ? port : container.ports?.find((p) => p.name === port)?.containerPort;
      assert.equal(number, 13133);
      assert.equal(probe.httpGet.path ?? '/', health?.path ?? '/');
    }
  });

  it('sets GOMEMLIMIT to about 80 % of the container memory limit', () => {
    const gomemlimit = container.env?.find((e) => e.name === 'GOMEMLIMIT')?.value ?? '';
    const m = /^(\d+)(MiB|GiB)$/.exec(gomemlimit);
    assert.ok(m, `GOMEMLIMIT=${gomemlimit} is not in MiB or GiB`);
    const bytes = Number(m[1]) * (m[2] === 'GiB' ? 2 ** 30 : 2 ** 20);
    const ratio = bytes / quantity(container.resources?.limits?.memory);
    assert.ok(ratio >= 0.75 && ratio <= 0.85, `GOMEMLIMIT is ${(ratio * 100).toFixed(1)} % of the limit`);
  });
});
