import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { buildApp } from '../../src/service/app.ts';
import { appDeps } from '../helpers/app-deps.ts';
import { KNOWN_VARIABLES, parseConfig } from '../../src/shared/config.ts';
import {
  APP,
  COLLECTOR,
  COLLECTOR_CONFIG,
  NAMESPACE,
  configMap,
  containerEnvironment,
  deployment,
  findObject,
  loadObjects,
  onlyContainer,
  quantity,
  service,
  surge,
} from './helpers/manifests.ts';
import type { IContainer } from 'kubernetes-models/v1/Container';

const objects = loadObjects();
const deployments = objects.filter((o) => o.kind === 'Deployment').map((o) => deployment(objects, o.metadata.name));
const appDeployment = deployment(objects, APP);
const appContainer = onlyContainer(appDeployment);
const appEnv = containerEnvironment(appContainer, objects);

function resolvePort(container: IContainer, port: number | string | undefined): number {
  if (typeof port === 'number') return port;
  const found = (container.ports ?? []).find((p) => p.name === port);
  assert.ok(found, `container ${container.name} has no port named ${port}`);
  return found.containerPort;
}

function probes(container: IContainer) {
  return [container.startupProbe, container.readinessProbe, container.livenessProbe].filter((p) => p !== undefined);
}

describe('the manifests refer to each other, and to the service, consistently', () => {
  it('selects with each Service the pods of exactly one Deployment, the one of the same name', () => {
    for (const svc of objects.filter((o) => o.kind === 'Service').map((o) => service(objects, o.metadata.name))) {
      const selector = svc.spec?.selector ?? {};
      assert.ok(Object.keys(selector).length > 0, `Service ${svc.metadata?.name} has no selector`);
      const selected = deployments.filter((d) =>
        Object.entries(selector).every(([k, v]) => d.spec?.template.metadata?.labels?.[k] === v),
      );
      assert.equal(selected.length, 1, `Service ${svc.metadata?.name} selects ${selected.length} Deployments`);
      assert.equal(selected[0]!.metadata?.name, svc.metadata?.name);
    }
  });

  it('makes every Deployment selector match its own pod template', () => {
    for (const d of deployments) {
      for (const [k, v] of Object.entries(d.spec?.selector.matchLabels ?? {})) {
        assert.equal(d.spec?.template.metadata?.labels?.[k], v, `${d.metadata?.name}: selector ${k}=${v}`);
      }
    }
  });

  it('points every Service targetPort at a container port with the same protocol', () => {
    for (const name of [APP, COLLECTOR]) {
      const container = onlyContainer(deployment(objects, name));
      for (const p of service(objects, name).spec?.ports ?? []) {
        const target = resolvePort(container, p.targetPort ?? p.port);
        const cp = container.ports?.find((c) => c.containerPort === target);
        assert.ok(cp, `${name}: targetPort ${p.targetPort} is no container port`);
        assert.equal(cp.protocol ?? 'TCP', p.protocol ?? 'TCP');
      }
    }
  });

  it('mounts only volumes that are defined, from ConfigMaps and keys that exist', () => {
    for (const d of deployments) {
      const spec = d.spec!.template.spec!;
      const volumes = new Map((spec.volumes ?? []).map((v) => [v.name, v]));
      for (const c of spec.containers) {
        for (const m of c.volumeMounts ?? []) assert.ok(volumes.has(m.name), `${d.metadata?.name}: no volume ${m.name}`);
        for (const e of c.envFrom ?? []) {
          if (e.configMapRef) assert.ok(configMap(objects, e.configMapRef.name ?? ''), `no ConfigMap ${e.configMapRef.name}`);
        }
      }
      for (const v of volumes.values()) {
        if (!v.configMap) continue;
        const cm = configMap(objects, v.configMap.name ?? '');
        for (const item of v.configMap.items ?? []) assert.ok(item.key in (cm.data ?? {}), `ConfigMap ${cm.metadata?.name} has no key ${item.key}`);
      }
    }
  });

  it('starts the Collector with a --config file that the mounted ConfigMap provides', () => {
    const c = onlyContainer(deployment(objects, COLLECTOR));
    const arg = [...(c.command ?? []), ...(c.args ?? [])].find((a) => a.startsWith('--config='));
    assert.ok(arg, 'the Collector has no --config=<file> argument');
    const file = arg.slice('--config='.length);
    const volumes = deployment(objects, COLLECTOR).spec!.template.spec!.volumes ?? [];
    const mount = (c.volumeMounts ?? []).find((m) => file.startsWith(m.mountPath.replace(/\/?$/, '/')));
    assert.ok(mount, `no volume is mounted where ${file} is`);
    const volume = volumes.find((v) => v.name === mount.name);
    assert.equal(volume?.configMap?.name, COLLECTOR_CONFIG);
    const keyName = file.slice(mount.mountPath.replace(/\/?$/, '/').length);
    assert.ok(keyName in (configMap(objects, COLLECTOR_CONFIG).data ?? {}), `otel-collector-config has no key ${keyName}`);
  });

  it('sets only environment variables that the configuration parser knows, and they parse', () => {
    const unknown = Object.keys(appEnv).filter((k) => !KNOWN_VARIABLES.includes(k));
    assert.deepEqual(unknown, [], 'variables src/shared/config.ts does not read');
    const config = parseConfig(appEnv);
    assert.equal(config.host, '0.0.0.0', 'the pod must listen on every interface for the Service and the probes');
    assert.equal(config.port, resolvePort(appContainer, 'http'));
    assert.equal(config.telemetry.embeddedReceiver, false, 'the pod must export to the Collector, not start its own receiver');
    assert.equal(config.telemetry.serviceName, 'ai-inference-service');
    assert.equal(config.appEnv, 'local');
  });

  it('exports telemetry to the Collector Service on its OTLP/gRPC port', () => {
    const endpoint = new URL(appEnv.OTEL_EXPORTER_OTLP_ENDPOINT ?? '');
    assert.ok(
      [COLLECTOR, `${COLLECTOR}.${NAMESPACE}`, `${COLLECTOR}.${NAMESPACE}.svc`, `${COLLECTOR}.${NAMESPACE}.svc.cluster.local`].includes(endpoint.hostname),
      `${endpoint.hostname} is not the otel-collector Service`,
    );
    const port = service(objects, COLLECTOR).spec?.ports?.find((p) => p.port === Number(endpoint.port));
    assert.ok(port, `the otel-collector Service has no port ${endpoint.port}`);
    assert.equal(port.name, 'otlp-grpc');
    assert.equal(parseConfig(appEnv).telemetry.traces.protocol, 'grpc');
  });

  it('probes only routes that the service serves, on the port it listens on', async () => {
    const { app } = buildApp(parseConfig(appEnv), appDeps());
    try {
      await app.ready();
      assert.equal(probes(appContainer).length, 3, 'startup, readiness and liveness probes');
      for (const probe of probes(appContainer)) {
        assert.ok(probe.httpGet, 'probes are HTTP GETs');
        assert.equal(resolvePort(appContainer, probe.httpGet.port), Number(appEnv.API_PORT));
        assert.ok(app.hasRoute({ method: 'GET', url: probe.httpGet.path ?? '/' }), `the service has no GET ${probe.httpGet.path}`);
      }
      assert.equal(appContainer.readinessProbe?.httpGet?.path, '/readyz', 'readiness must follow draining');
      assert.equal(appContainer.livenessProbe?.httpGet?.path, '/livez');
    } finally {
      await app.close();
    }
  });

  it('gives the pod enough grace to drain: grace period > SHUTDOWN_DELAY_MS + SHUTDOWN_TIMEOUT_MS (+ any preStop sleep)', () => {
    const config = parseConfig(appEnv);
    assert.ok(config.shutdown.delayMs >= 3000, 'endpoints need a few seconds to drop a terminating pod');
    const preStop = appContainer.lifecycle?.preStop;
    assert.ok(preStop === undefined || preStop.sleep !== undefined, 'a preStop other than sleep is not accounted for');
    const preStopSeconds = preStop?.sleep?.seconds ?? 0;
    const grace = appDeployment.spec?.template.spec?.terminationGracePeriodSeconds ?? 30;
    assert.ok(
      grace > preStopSeconds + (config.shutdown.delayMs + config.shutdown.timeoutMs) / 1000,
      `terminationGracePeriodSeconds ${grace} is too short`,
    );
  });

  it('fits both Deployments, each surging by one pod during a rolling update, in the ResourceQuota and LimitRange', () => {
    const quota = findObject(objects, 'ResourceQuota', 'ai-ml-lab-2-2-quota') as unknown as { spec: { hard: Record<string, string> } };
    const limitRange = findObject(objects, 'LimitRange', 'ai-ml-lab-2-2-limits') as unknown as {
      spec: { limits: { type: string; max?: Record<string, string> }[] };
    };
    const max = limitRange.spec.limits.find((l) => l.type === 'Container')?.max ?? {};
    const total = { 'requests.cpu': 0, 'requests.memory': 0, 'limits.cpu': 0, 'limits.memory': 0, pods: 0 };
    for (const d of deployments) {
      const peakPods = (d.spec?.replicas ?? 1) + surge(d);
      total.pods += peakPods;
      for (const c of d.spec!.template.spec!.containers) {
        const r = c.resources ?? {};
        for (const kind of ['requests', 'limits'] as const) {
          for (const res of ['cpu', 'memory'] as const) {
            const value = r[kind]?.[res];
            assert.ok(value !== undefined, `${d.metadata?.name}/${c.name} states no ${kind}.${res}`);
            total[`${kind}.${res}`] += peakPods * quantity(value);
            if (max[res] !== undefined) assert.ok(quantity(value) <= quantity(max[res]), `${c.name} ${kind}.${res} exceeds the LimitRange`);
          }
        }
      }
    }
    for (const [k, used] of Object.entries(total)) {
      const hard = quota.spec.hard[k];
      assert.ok(hard !== undefined, `the quota does not cap ${k}`);
      assert.ok(used <= quantity(hard), `${k}: ${used} needed at peak > quota ${hard}`);
    }
  });
});
