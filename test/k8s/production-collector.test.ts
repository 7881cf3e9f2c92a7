// The production overlay's Collector tier, offline: agents (DaemonSet) route spans and log records by trace id to
// gateways (Deployment + HPA) that tail-sample. Checks the configs the pods really mount, the resolver's headless
// Service, the RBAC it needs and no more, and the queue and batch sizes against the measured rates.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import type { IRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import type { IRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import type { IService } from 'kubernetes-models/v1/Service';
import { APP, NAMESPACE, ROOT, deployment, kubectlAvailable, onlyContainer, quantity, service, type K8sObject } from './helpers/manifests.ts';
import {
  AGENT,
  GATEWAY,
  daemonSet,
  hpa,
  mountedConfig,
  ofKind,
  onlyContainerOf,
  renderProduction,
  seconds,
  selects,
  typeOf,
  workloads,
  type CollectorConfig,
  type Workload,
} from './helpers/production.ts';

// Component types of otel/opentelemetry-collector-contrib 0.149.0 that these configs may use. `otlp_grpc` is the
// OTLP/gRPC exporter's name since v0.144.0; `loadbalancing` is still the load-balancing exporter's name.
const PINNED_IMAGE = 'otel/opentelemetry-collector-contrib:0.149.0';
const ALLOWED = {
  receivers: ['otlp'],
  processors: ['memory_limiter', 'batch', 'tail_sampling'],
  exporters: ['loadbalancing', 'otlp_grpc', 'debug'],
  extensions: ['health_check'],
} as const;
type Kind = keyof typeof ALLOWED;

// Per /predict (README telemetry catalogue, docs/CAPACITY.md): server, preprocess, inference and postprocess spans in
// the request's trace, and the root `batch` span of its model call in a trace of its own (one request per batch at
// the default MAX_QUEUE_DELAY_US=0 below the model's concurrency); two request log lines, each an OTLP log record.
const SPANS_PER_REQUEST = 5;
const TRACES_PER_REQUEST = 2;
const LOG_RECORDS_PER_REQUEST = 2;

const skip = kubectlAvailable() ? false : 'kubectl is not installed';
const objects: K8sObject[] = skip ? [] : renderProduction();
const tiers = (): { name: string; w: Workload; config: CollectorConfig }[] =>
  skip ? [] : [AGENT, GATEWAY].map((name) => {
    const w = workloads(objects).find((x) => x.w.metadata?.name === name)!.w;
    return { name, w, config: mountedConfig(objects, w).config };
  });
const agent = () => tiers()[0]!.config;
const gateway = () => tiers()[1]!.config;

/** Per-pod request rate at the app's HPA target, from the figure app-patch.yaml sizes with (whole requests, as the comments use it). */
function appRateAtTarget(): number {
  const text = readFileSync(join(ROOT, 'k8s/overlays/production/app-patch.yaml'), 'utf8').replace(/\n#\s*/g, ' ');
  const usPerReq = Number(/([\d.]+) us of CPU\s+per request/.exec(text)?.[1]);
  const request = quantity(onlyContainer(deployment(objects, APP)).resources!.requests!.cpu);
  const target = hpa(objects, APP).spec!.metrics![0]!.resource!.target.averageUtilization! / 100;
  return Math.round((request * target) / (usPerReq * 1e-6));
}
/** App pods one node can hold at the HPA maximum with maxSkew 1 over the production cluster's workers. */
function appPodsPerNode(): number {
  const cluster = parse(readFileSync(join(ROOT, 'kind-mcp-cluster-production.yaml'), 'utf8')) as { nodes: { role: string }[] };
  const workers = cluster.nodes.filter((n) => n.role === 'worker').length;
  return Math.ceil(hpa(objects, APP).spec!.maxReplicas / workers);
}

describe('the Collector tier configs are sound', { skip }, () => {
  it('runs agents as a DaemonSet and gateways as a Deployment with their own HPA, both on the pinned contrib image', () => {
    assert.equal(onlyContainerOf(daemonSet(objects, AGENT)).image, PINNED_IMAGE);
    assert.equal(onlyContainer(deployment(objects, GATEWAY)).image, PINNED_IMAGE);
    assert.equal(hpa(objects, GATEWAY).spec?.scaleTargetRef.name, GATEWAY);
  });

  for (const tier of [AGENT, GATEWAY]) {
    it(`${tier}: every pipeline references defined components, and every defined component is used`, () => {
      const { config } = tiers().find((t) => t.name === tier)!;
      const used: Record<Kind, Set<string>> = { receivers: new Set(), processors: new Set(), exporters: new Set(), extensions: new Set(config.service.extensions ?? []) };
      assert.ok(Object.keys(config.service.pipelines).length >= 3);
      for (const [name, p] of Object.entries(config.service.pipelines)) {
        assert.ok(p.receivers.length > 0 && p.exporters.length > 0, `${name} needs a receiver and an exporter`);
        for (const kind of ['receivers', 'processors', 'exporters'] as const) {
          for (const id of p[kind] ?? []) {
            assert.ok(id in (config[kind] ?? {}), `${tier} pipeline ${name} uses ${kind} ${id}, which is not defined`);
            used[kind].add(id);
          }
        }
      }
      for (const kind of Object.keys(ALLOWED) as Kind[]) {
        for (const id of Object.keys(config[kind] ?? {})) {
          assert.ok(used[kind].has(id), `${tier}: ${kind} ${id} is defined but unused`);
          assert.ok((ALLOWED[kind] as readonly string[]).includes(typeOf(id)), `${tier}: ${kind} type ${typeOf(id)} is not in contrib 0.149.0's allow-list`);
        }
      }
    });

    it(`${tier}: memory_limiter comes first in every pipeline, with limits that GOMEMLIMIT matches`, () => {
      const { w, config } = tiers().find((t) => t.name === tier)!;
      for (const [name, p] of Object.entries(config.service.pipelines)) assert.equal(typeOf(p.processors?.[0] ?? ''), 'memory_limiter', `${tier} pipeline ${name}`);
      const ml = config.processors!.memory_limiter;
      assert.ok(ml.limit_percentage > ml.spike_limit_percentage && ml.limit_percentage <= 85);
      const c = onlyContainerOf(w);
      const go = /^(\d+)MiB$/.exec(c.env?.find((e) => e.name === 'GOMEMLIMIT')?.value ?? '');
      assert.ok(go, 'GOMEMLIMIT in MiB');
      const ratio = (Number(go[1]) * 2 ** 20) / quantity(c.resources!.limits!.memory);
      assert.ok(Math.abs(ratio - ml.limit_percentage / 100) < 0.02, `GOMEMLIMIT is ${(ratio * 100).toFixed(1)} % of the limit`);
    });

    it(`${tier}: listens for OTLP on 0.0.0.0 and answers the probes with health_check on 13133`, () => {
      const { w, config } = tiers().find((t) => t.name === tier)!;
      assert.equal(config.receivers!.otlp.protocols.grpc.endpoint, '0.0.0.0:4317');
      assert.equal(config.extensions!.health_check.endpoint, '0.0.0.0:13133');
      assert.ok(config.service.extensions?.includes('health_check'));
      const c = onlyContainerOf(w);
      for (const probe of [c.readinessProbe, c.livenessProbe]) {
        const port = probe?.httpGet?.port;
        assert.equal(typeof port === 'number' ? port : c.ports?.find((p) => p.name === port)?.containerPort, 13133);
      }
    });
  }

  it('agent: sends traces and logs only through loadbalancing exporters keyed by traceID, and metrics never through them', () => {
    const cfg = agent();
    for (const [name, p] of Object.entries(cfg.service.pipelines)) {
      const lb = p.exporters.filter((id) => typeOf(id) === 'loadbalancing');
      if (typeOf(name) === 'metrics') assert.equal(lb.length, 0, 'traceID routing is not for metrics');
      else assert.deepEqual(lb, p.exporters, `${name} must reach the gateways by trace id only`);
    }
    for (const [id, e] of Object.entries(cfg.exporters!)) if (typeOf(id) === 'loadbalancing') assert.equal(e.routing_key, 'traceID', id);
  });

  it('agent: resolves every gateway pod through a headless Service that selects exactly the gateway pods, on the port they receive OTLP/gRPC', () => {
    const cfg = agent();
    const gw = deployment(objects, GATEWAY);
    const gwGrpcPort = Number(gateway().receivers!.otlp.protocols.grpc.endpoint.split(':')[1]);
    for (const [id, e] of Object.entries(cfg.exporters!)) {
      if (typeOf(id) !== 'loadbalancing') continue;
      const k8s = e.resolver?.k8s;
      assert.ok(k8s, `${id}: use the k8s resolver (or change this test to the dns one)`);
      const [svcName, ns] = String(k8s.service).split('.');
      assert.equal(ns, NAMESPACE, `${id}: name the namespace, the resolver otherwise guesses`);
      const svc = service(objects, svcName!);
      assert.equal(svc.spec?.clusterIP, 'None', `${svcName} must be headless`);
      assert.ok(selects(svc.spec?.selector, gw.spec?.template.metadata?.labels), `${svcName} does not select the gateway pods`);
      for (const { w } of workloads(objects)) if (w !== gw) assert.ok(!selects(svc.spec?.selector, w.spec?.template.metadata?.labels), `${svcName} also selects ${w.metadata?.name}`);
      assert.deepEqual(k8s.ports, [gwGrpcPort]);
      assert.ok(svc.spec?.ports?.some((p) => p.port === gwGrpcPort));
      assert.equal(e.protocol.otlp.endpoint, undefined, 'the exporter sets each backend endpoint itself');
      assert.equal(e.protocol.otlp.tls?.insecure, true, 'the gateways serve plain gRPC');
    }
  });

  it('agent: sends metrics to the gateway ClusterIP Service, whose pods close connections after max_connection_age so they rebalance', () => {
    const otlp = Object.entries(agent().exporters!).filter(([id]) => typeOf(id) === 'otlp_grpc');
    assert.ok(otlp.length > 0);
    for (const [, e] of otlp) {
      const [host, port] = String(e.endpoint).split(':');
      const svc = service(objects, host!.split('.')[0]!);
      assert.notEqual(svc.spec?.clusterIP, 'None');
      assert.ok(selects(svc.spec?.selector, deployment(objects, GATEWAY).spec?.template.metadata?.labels));
      assert.ok(svc.spec?.ports?.some((p) => p.port === Number(port)));
    }
    const keepalive = gateway().receivers!.otlp.protocols.grpc.keepalive?.server_parameters;
    assert.ok(keepalive, 'the gateway sets no gRPC keepalive server parameters');
    assert.ok(seconds(keepalive.max_connection_age) <= 300, 'max_connection_age');
    assert.ok(seconds(keepalive.max_connection_age_grace) > 0, 'max_connection_age_grace');
  });

  it('agent: lets the k8s resolver read EndpointSlices in this namespace and nothing else', () => {
    const ds = daemonSet(objects, AGENT);
    const sa = ds.spec?.template.spec?.serviceAccountName;
    assert.ok(sa && ofKind(objects, 'ServiceAccount').some((o) => (o as { metadata: { name: string } }).metadata.name === sa));
    assert.equal(ds.spec?.template.spec?.automountServiceAccountToken, true, 'the resolver needs the token');
    const bindings = ofKind<IRoleBinding>(objects, 'RoleBinding').filter((b) => b.subjects?.some((s) => s.kind === 'ServiceAccount' && s.name === sa));
    assert.equal(bindings.length, 1);
    assert.equal(bindings[0]!.roleRef.kind, 'Role', 'a Role, not a ClusterRole');
    const role = ofKind<IRole>(objects, 'Role').find((r) => r.metadata?.name === bindings[0]!.roleRef.name);
    assert.deepEqual(role?.rules, [{ apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] }]);
    assert.ok(!objects.some((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding'));
    for (const { w } of workloads(objects)) {
      if (w !== ds) assert.equal(w.spec?.template.spec?.automountServiceAccountToken, false, `${w.metadata?.name} mounts an API token it does not need`);
    }
  });

  it('gateway: tail-samples every trace pipeline, keeping errors, traces slower than 200 ms and a probabilistic share', () => {
    const cfg = gateway();
    for (const [name, p] of Object.entries(cfg.service.pipelines)) {
      if (typeOf(name) === 'traces') assert.ok(p.processors?.includes('tail_sampling'), name);
    }
    const policies = cfg.processors!.tail_sampling.policies as { type: string; status_code?: { status_codes: string[] }; latency?: { threshold_ms: number }; probabilistic?: { sampling_percentage: number } }[];
    assert.deepEqual(policies.find((p) => p.type === 'status_code')?.status_code?.status_codes, ['ERROR']);
    assert.equal(policies.find((p) => p.type === 'latency')?.latency?.threshold_ms, 200);
    const share = policies.find((p) => p.type === 'probabilistic')?.probabilistic?.sampling_percentage ?? 0;
    assert.ok(share > 0 && share < 100);
  });

  it('sizes the agent queues to hold 5 s of one node peak at the app HPA target (spans and log records per request)', () => {
    const cfg = agent();
    const perNode = appPodsPerNode() * appRateAtTarget();
    const batch = cfg.processors!.batch.send_batch_size as number;
    for (const [id, perRequest] of [['loadbalancing/traces', SPANS_PER_REQUEST], ['loadbalancing/logs', LOG_RECORDS_PER_REQUEST]] as const) {
      const q = cfg.exporters![id].sending_queue;
      assert.equal(q.enabled, true, id);
      const items = q.queue_size * batch;
      assert.ok(items >= perNode * perRequest * 5, `${id}: ${items} items < 5 s of ${Math.round(perNode * perRequest)}/s`);
      assert.ok(items <= perNode * perRequest * 30, `${id}: a queue of ${items} items is far beyond the measured rate`);
      assert.equal(cfg.exporters![id].protocol.otlp.retry_on_failure?.enabled, false, `${id}: retry at the top so a failed export is routed again`);
    }
    // The comments state the node rates these come from.
    const text = readFileSync(join(ROOT, 'k8s/overlays/production/collector/agent.yaml'), 'utf8');
    assert.ok(text.includes(Math.round(perNode * SPANS_PER_REQUEST).toLocaleString('en-US')), 'spans/s per node');
    assert.ok(text.includes(Math.round(perNode * LOG_RECORDS_PER_REQUEST).toLocaleString('en-US')), 'log records/s per node');
  });

  it('sizes tail sampling for the decision window at the app maximum over the gateway minimum', () => {
    const ts = gateway().processors!.tail_sampling;
    const tracesPerGateway = (hpa(objects, APP).spec!.maxReplicas * appRateAtTarget() * TRACES_PER_REQUEST) / hpa(objects, GATEWAY).spec!.minReplicas!;
    const held = tracesPerGateway * seconds(ts.decision_wait);
    assert.ok(ts.num_traces >= held * 0.8, `num_traces ${ts.num_traces} holds less than 80 % of ${Math.round(held)}`);
    assert.ok(ts.expected_new_traces_per_sec >= tracesPerGateway);
    // At about 1 KiB per span in the Collector, the held traces fit under memory_limiter's soft limit.
    const limit = quantity(onlyContainer(deployment(objects, GATEWAY)).resources!.limits!.memory);
    const ml = gateway().processors!.memory_limiter;
    assert.ok(ts.num_traces * (SPANS_PER_REQUEST / TRACES_PER_REQUEST) * 1024 < (limit * (ml.limit_percentage - ml.spike_limit_percentage)) / 100);
  });

  it('rolls agents with a surge on the same node, so a node is never without an agent', () => {
    const u = daemonSet(objects, AGENT).spec?.updateStrategy?.rollingUpdate;
    assert.equal(u?.maxUnavailable, 0);
    assert.equal(u?.maxSurge, 1);
    for (const c of daemonSet(objects, AGENT).spec!.template.spec!.containers) assert.ok(!(c.ports ?? []).some((p) => p.hostPort), 'a hostPort would make surge pods clash');
    const svc = ofKind<IService>(objects, 'Service').find((s) => selects(s.spec?.selector, daemonSet(objects, AGENT).spec?.template.metadata?.labels));
    assert.equal(svc?.spec?.internalTrafficPolicy, 'Local');
  });
});
