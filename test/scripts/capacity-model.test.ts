// docs/CAPACITY.md's table must follow from its inputs, and its pod sizes and autoscaler settings must be the
// production overlay's: this renders the overlay and compares, recomputes every cell with its own arithmetic (not the
// script's), checks the arithmetic lines are what scripts/capacity-model.ts prints for these inputs, and checks the
// measured service figures are the ones docs/PERFORMANCE.md gives.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { render } from '../../scripts/capacity-model.ts';
import { APP, deployment, kubectlAvailable, quantity } from '../k8s/helpers/manifests.ts';
import { AGENT, GATEWAY, daemonSet, hpa, onlyContainerOf, readProductionFile, renderProduction } from '../k8s/helpers/production.ts';

const doc = readFileSync(new URL('../../docs/CAPACITY.md', import.meta.url), 'utf8');
const perf = readFileSync(new URL('../../docs/PERFORMANCE.md', import.meta.url), 'utf8');
const num = (s: string): number => Number(s.replace(/[$,]/g, ''));

const rows = [...doc.matchAll(/^\| `([A-Z0-9_]+)` \| ([^|]+) \| ([^|]+) \| ([^|]*) \|$/gm)];
const inputs: Record<string, number> = Object.fromEntries(rows.map((m) => [m[1], num(m[2]!.trim())]));
const i = inputs as { [k: string]: number };
const skip = kubectlAvailable() ? false : 'kubectl is not installed';

test('every input of docs/CAPACITY.md has a number, a unit and a source', () => {
  assert.ok(rows.length >= 20, `only ${rows.length} inputs`);
  for (const m of rows) {
    assert.ok(Number.isFinite(num(m[2]!.trim())), `${m[1]}: ${m[2]}`);
    assert.ok(m[3]!.trim() !== '', `${m[1]} has no unit`);
    assert.ok(m[4]!.trim().length > 10, `${m[1]} has no source`);
  }
  // Outside figures are marked as such.
  for (const k of ['COL_CPU_PER_10K_SPANS', 'COL_CPU_PER_10K_LOGS', 'PRICE_VCPU_H', 'PRICE_GIB_H', 'PRICE_EGRESS_GB']) {
    assert.match(rows.find((m) => m[1] === k)![4]!, /\*\*External/, k);
  }
});

test("the service's capacity and CPU per request are the full-telemetry figures docs/PERFORMANCE.md reports", () => {
  const m = /^\| ours, full telemetry[^|]*\| ([\d,]+) \([^|]*\|[^|]*\| ([\d.]+) \|/m.exec(perf);
  assert.ok(m, 'no full-telemetry row in docs/PERFORMANCE.md');
  assert.equal(i.R_CORE, num(m[1]!));
  assert.equal(i.CPU_PER_REQ_US, Number(m[2]!));
});

const cpuTarget = (h: IHorizontalPodAutoscaler): number => {
  const m = (h.spec?.metrics ?? []).find((x) => x.type === 'Resource' && x.resource?.name === 'cpu');
  assert.ok(m?.resource?.target.type === 'Utilization', `${h.metadata?.name} does not scale on CPU utilization`);
  return m.resource.target.averageUtilization! / 100;
};

test('the pod sizes and autoscaler settings among the inputs are the production overlay\'s', { skip }, () => {
  const objects = renderProduction();
  const app = onlyContainerOf(deployment(objects, APP)).resources!;
  const appHpa = hpa(objects, APP);
  const agent = onlyContainerOf(daemonSet(objects, AGENT)).resources!;
  const gw = onlyContainerOf(deployment(objects, GATEWAY)).resources!;
  const gwHpa = hpa(objects, GATEWAY);
  const GiB = 2 ** 30;
  assert.deepEqual(
    {
      POD_CPU_REQUEST: i.POD_CPU_REQUEST,
      POD_CPU_LIMIT: i.POD_CPU_LIMIT,
      POD_MEM_GIB: i.POD_MEM_GIB,
      HPA_TARGET: i.HPA_TARGET,
      MIN_REPLICAS: i.MIN_REPLICAS,
      MAX_REPLICAS: i.MAX_REPLICAS,
      AGENT_CPU_REQUEST: i.AGENT_CPU_REQUEST,
      AGENT_MEM_GIB: i.AGENT_MEM_GIB,
      GATEWAY_CPU_REQUEST: i.GATEWAY_CPU_REQUEST,
      GATEWAY_MEM_GIB: i.GATEWAY_MEM_GIB,
      GATEWAY_TARGET: i.GATEWAY_TARGET,
      MIN_GATEWAYS: i.MIN_GATEWAYS,
      MAX_GATEWAYS: i.MAX_GATEWAYS,
    },
    {
      POD_CPU_REQUEST: quantity(app.requests!.cpu),
      POD_CPU_LIMIT: quantity(app.limits!.cpu),
      POD_MEM_GIB: quantity(app.requests!.memory) / GiB,
      HPA_TARGET: cpuTarget(appHpa),
      MIN_REPLICAS: appHpa.spec!.minReplicas,
      MAX_REPLICAS: appHpa.spec!.maxReplicas,
      AGENT_CPU_REQUEST: quantity(agent.requests!.cpu),
      AGENT_MEM_GIB: quantity(agent.requests!.memory) / GiB,
      GATEWAY_CPU_REQUEST: quantity(gw.requests!.cpu),
      GATEWAY_MEM_GIB: quantity(gw.requests!.memory) / GiB,
      GATEWAY_TARGET: cpuTarget(gwHpa),
      MIN_GATEWAYS: gwHpa.spec!.minReplicas,
      MAX_GATEWAYS: gwHpa.spec!.maxReplicas,
    },
  );
  // Bursts above the target go to the limits, which must leave room for them.
  assert.ok(quantity(agent.limits!.cpu) > i.AGENT_CPU_REQUEST! && quantity(gw.limits!.cpu) > i.GATEWAY_CPU_REQUEST!);
  // One agent per node, as many app pods per node as the spread puts there on the overlay's kind cluster.
  const workers = [...readFileSync(new URL('../../kind-mcp-cluster-production.yaml', import.meta.url), 'utf8').matchAll(/role: worker/g)].length;
  assert.equal(i.PODS_PER_AGENT, Math.ceil(i.MAX_REPLICAS! / workers));
});

test('the Collector sizes of the overlay are what the model asks for, and its comments cite the model', () => {
  const perPod = (i.POD_CPU_REQUEST! * i.HPA_TARGET!) / (i.CPU_PER_REQ_US! * 1e-6);
  const hopPerReq = (i.SPANS_PER_1K! / 1e3 / 1e4) * i.COL_CPU_PER_10K_SPANS! + (i.LOGS_PER_1K! / 1e3 / 1e4) * i.COL_CPU_PER_10K_LOGS!;
  // An agent reserves what a full node needs at the app's HPA target, rounded up to 50m and no more.
  const nodePeak = i.PODS_PER_AGENT! * perPod * hopPerReq;
  assert.equal(i.AGENT_CPU_REQUEST, Math.ceil(nodePeak * 20) / 20, `a full node's agent needs ${nodePeak} vCPU`);
  // The gateway HPA's maximum carries what the app HPA's maximum serves.
  const perGateway = (i.GATEWAY_CPU_REQUEST! * i.GATEWAY_TARGET!) / (hopPerReq * i.GATEWAY_FACTOR!);
  assert.equal(i.MAX_GATEWAYS, Math.ceil((i.MAX_REPLICAS! * perPod) / perGateway));
  const fmt = (x: number, d: number) => x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
  const agentYaml = readProductionFile('collector-agent.yaml');
  const gatewayYaml = readProductionFile('collector-gateway.yaml');
  for (const [file, text, figure] of [
    ['collector-agent.yaml', agentYaml, fmt(nodePeak, 4)],
    ['collector-gateway.yaml', gatewayYaml, fmt(perGateway, 0)],
  ] as const) {
    assert.ok(text.includes('docs/CAPACITY.md'), `${file} does not cite docs/CAPACITY.md`);
    assert.ok(text.includes(figure), `${file} does not state ${figure}`);
  }
});

test('every cell of the sizing table follows from the inputs', () => {
  const table = [...doc.matchAll(/^\| ([\d,]+) \| (\d+) \| (\d+) \| (\d+) \| ([\d.,]+) \| ([\d.,]+) \| ([\d.,]+) \| ([\d,]+) \| ([\d,]+) \| ([^|]+) \|$/gm)];
  assert.deepEqual(table.map((m) => num(m[1]!)), [1_000, 10_000, 100_000]);
  const close = (actual: number, expected: number, step: number, what: string): void =>
    assert.ok(Math.abs(actual - expected) <= step / 2 + 1e-9, `${what}: the doc says ${actual}, the inputs give ${expected}`);
  for (const m of table) {
    const rate = num(m[1]!);
    // The pods the HPA settles on: each at HPA_TARGET of its CPU request, one pod fewer would be above it.
    const cpuAt = (p: number) => (rate * i.CPU_PER_REQ_US! * 1e-6) / (p * i.POD_CPU_REQUEST!);
    const pods = Math.max(i.MIN_REPLICAS!, Math.ceil(rate / ((i.POD_CPU_REQUEST! * i.HPA_TARGET!) / (i.CPU_PER_REQ_US! * 1e-6))));
    assert.ok(cpuAt(pods) <= i.HPA_TARGET! && (pods === i.MIN_REPLICAS || cpuAt(pods - 1) > i.HPA_TARGET!));
    const hop = ((rate * i.SPANS_PER_1K!) / 1e3 / 1e4) * i.COL_CPU_PER_10K_SPANS! + ((rate * i.LOGS_PER_1K!) / 1e3 / 1e4) * i.COL_CPU_PER_10K_LOGS!;
    const agents = Math.ceil(pods / i.PODS_PER_AGENT!);
    assert.ok(hop / agents <= i.AGENT_CPU_REQUEST!, `agents at ${rate} req/s need more than they request`);
    const gateways = Math.max(i.MIN_GATEWAYS!, Math.ceil((hop * i.GATEWAY_FACTOR!) / (i.GATEWAY_CPU_REQUEST! * i.GATEWAY_TARGET!)));
    const vcpu = pods * i.POD_CPU_REQUEST! + agents * i.AGENT_CPU_REQUEST! + gateways * i.GATEWAY_CPU_REQUEST!;
    const mem = pods * i.POD_MEM_GIB! + agents * i.AGENT_MEM_GIB! + gateways * i.GATEWAY_MEM_GIB!;
    const metrics = pods * i.METRIC_BYTES_PER_POD_S!;
    const mbps = (((rate / 1e3) * (i.TRACE_BYTES_PER_1K! + i.LOG_BYTES_PER_1K!) + metrics) * 8) / 1e6;
    const egressBytes = (rate / 1e3) * ((i.TRACE_BYTES_PER_1K! * i.KEEP!) / i.GZIP_TRACES! + i.LOG_BYTES_PER_1K! / i.GZIP_LOGS!) + metrics;
    const gbMonth = (egressBytes * 86_400 * (i.HOURS_MONTH! / 24)) / 1e9;
    const cost = i.HOURS_MONTH! * (vcpu * i.PRICE_VCPU_H! + mem * i.PRICE_GIB_H!) + gbMonth * i.PRICE_EGRESS_GB!;
    assert.deepEqual([num(m[2]!), num(m[3]!), num(m[4]!)], [pods, agents, gateways], `pods, agents, gateways at ${rate} req/s`);
    close(num(m[5]!), vcpu, 0.01, `vCPU at ${rate}`);
    close(num(m[6]!), mem, 0.01, `memory at ${rate}`);
    close(num(m[7]!), mbps, 0.1, `Mbit/s at ${rate}`);
    close(num(m[8]!), gbMonth, 1, `egress at ${rate}`);
    close(num(m[9]!), cost, 1, `cost at ${rate}`);
    const within = pods <= i.MAX_REPLICAS! && gateways <= i.MAX_GATEWAYS!;
    assert.equal(m[10]!.trim().startsWith('yes'), within, `at ${rate} req/s the overlay's maxima ${within ? 'suffice' : 'do not suffice'}`);
  }
});

test("the doc states what 100,000 req/s needs past the overlay's maxReplicas", () => {
  const section = doc.slice(doc.indexOf('**Past `maxReplicas`.**'));
  const perPod = (i.POD_CPU_REQUEST! * i.HPA_TARGET!) / (i.CPU_PER_REQ_US! * 1e-6);
  const hopPerReq = (i.SPANS_PER_1K! / 1e3 / 1e4) * i.COL_CPU_PER_10K_SPANS! + (i.LOGS_PER_1K! / 1e3 / 1e4) * i.COL_CPU_PER_10K_LOGS!;
  const pods = Math.ceil(100_000 / perPod);
  const gateways = Math.ceil((100_000 * hopPerReq * i.GATEWAY_FACTOR!) / (i.GATEWAY_CPU_REQUEST! * i.GATEWAY_TARGET!));
  assert.ok(pods > i.MAX_REPLICAS!, 'the overlay now covers 100,000 req/s: rewrite the paragraph');
  for (const s of [
    `${i.MAX_REPLICAS} app pods, ${i.MAX_GATEWAYS} gateways`,
    `${pods}\napp pods and ${gateways} gateways`.replace('\n', ' '),
    `${(i.MAX_REPLICAS! * i.R_CORE! * i.POD_CPU_LIMIT!).toLocaleString('en-US')} req/s at saturation`,
  ]) {
    assert.ok(section.replace(/\s+/g, ' ').includes(s), `the paragraph does not say "${s}"`);
  }
});

test('the table and the arithmetic between the MODEL markers are what scripts/capacity-model.ts prints for these inputs', () => {
  const start = doc.indexOf('-->\n', doc.indexOf('<!-- MODEL:')) + 4;
  const shown = doc.slice(start, doc.indexOf('<!-- /MODEL -->'));
  assert.equal(shown, render(inputs));
});
