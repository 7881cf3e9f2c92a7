// The capacity model of docs/CAPACITY.md: reads the inputs table of the doc (the pod sizes and autoscaler settings in
// it are the production overlay's, which the test checks), prints the sizing table and the arithmetic behind each
// row, in the doc's format. `node scripts/capacity-model.ts` after changing an input, then
// paste its output between the doc's MODEL markers; test/scripts/capacity-model.test.ts recomputes the table from the
// inputs independently, so the two cannot drift apart.
import { readFileSync } from 'node:fs';

export const DOC = new URL('../docs/CAPACITY.md', import.meta.url);
export const RATES = [1_000, 10_000, 100_000];

/** The `| NAME | value | unit | source |` rows of the doc's inputs table (names in capitals). */
export function parseInputs(doc: string): Record<string, number> {
  const inputs: Record<string, number> = {};
  for (const m of doc.matchAll(/^\| `([A-Z0-9_]+)` \| ([0-9.,]+) \|/gm)) inputs[m[1]!] = Number(m[2]!.replace(/,/g, ''));
  return inputs;
}

export interface Row {
  rate: number;
  /** Pods the HPA runs at its target for this rate; above `MAX_REPLICAS` the overlay's HPA stops short of it. */
  pods: number;
  agents: number;
  /** Collector CPU of one hop (agent or gateway) for this rate, before the gateway factor. */
  hopCpu: number;
  gateways: number;
  vcpu: number;
  memoryGib: number;
  clusterMbps: number;
  egressGbMonth: number;
  bufferMbPerGateway: number;
  cost: { cpu: number; memory: number; egress: number; total: number };
}

export function need(i: Record<string, number>, k: string): number {
  const v = i[k];
  if (v === undefined || !Number.isFinite(v)) throw new Error(`input ${k} missing from docs/CAPACITY.md`);
  return v;
}

/** Requests per second one app pod serves when the HPA holds it at its CPU target. */
export const perPodAtTarget = (i: Record<string, number>): number =>
  (need(i, 'POD_CPU_REQUEST') * need(i, 'HPA_TARGET')) / (need(i, 'CPU_PER_REQ_US') * 1e-6);

/** Collector CPU of one hop per request per second: spans and log records at the load tests' cost. */
export const hopCpuPerReq = (i: Record<string, number>): number =>
  ((need(i, 'SPANS_PER_1K') / 1000 / 10_000) * need(i, 'COL_CPU_PER_10K_SPANS') + (need(i, 'LOGS_PER_1K') / 1000 / 10_000) * need(i, 'COL_CPU_PER_10K_LOGS'));

/** Requests per second one gateway takes when its HPA holds it at its CPU target. */
export const perGatewayAtTarget = (i: Record<string, number>): number =>
  (need(i, 'GATEWAY_CPU_REQUEST') * need(i, 'GATEWAY_TARGET')) / (hopCpuPerReq(i) * need(i, 'GATEWAY_FACTOR'));

export function model(i: Record<string, number>, rate: number): Row {
  const pods = Math.max(need(i, 'MIN_REPLICAS'), Math.ceil(rate / perPodAtTarget(i)));
  const spansPerS = (rate * need(i, 'SPANS_PER_1K')) / 1000;
  const hopCpu = rate * hopCpuPerReq(i);
  const agents = Math.ceil(pods / need(i, 'PODS_PER_AGENT'));
  const gateways = Math.max(need(i, 'MIN_GATEWAYS'), Math.ceil(rate / perGatewayAtTarget(i)));
  const vcpu = pods * need(i, 'POD_CPU_REQUEST') + agents * need(i, 'AGENT_CPU_REQUEST') + gateways * need(i, 'GATEWAY_CPU_REQUEST');
  const memoryGib = pods * need(i, 'POD_MEM_GIB') + agents * need(i, 'AGENT_MEM_GIB') + gateways * need(i, 'GATEWAY_MEM_GIB');
  const metricBytesPerS = pods * need(i, 'METRIC_BYTES_PER_POD_S');
  const clusterBytesPerS = (rate * (need(i, 'TRACE_BYTES_PER_1K') + need(i, 'LOG_BYTES_PER_1K'))) / 1000 + metricBytesPerS;
  const egressBytesPerS =
    (rate * ((need(i, 'TRACE_BYTES_PER_1K') * need(i, 'KEEP')) / need(i, 'GZIP_TRACES') + need(i, 'LOG_BYTES_PER_1K') / need(i, 'GZIP_LOGS'))) / 1000 +
    metricBytesPerS;
  const hours = need(i, 'HOURS_MONTH');
  const egressGbMonth = (egressBytesPerS * 3600 * hours) / 1e9;
  const cpu = vcpu * need(i, 'PRICE_VCPU_H') * hours;
  const memory = memoryGib * need(i, 'PRICE_GIB_H') * hours;
  const egress = egressGbMonth * need(i, 'PRICE_EGRESS_GB');
  const bufferMbPerGateway = (spansPerS * need(i, 'DECISION_WAIT_S') * (need(i, 'TRACE_BYTES_PER_1K') / need(i, 'SPANS_PER_1K'))) / gateways / 1e6;
  return {
    rate,
    pods,
    agents,
    hopCpu,
    gateways,
    vcpu,
    memoryGib,
    clusterMbps: (clusterBytesPerS * 8) / 1e6,
    egressGbMonth,
    bufferMbPerGateway,
    cost: { cpu, memory, egress, total: cpu + memory + egress },
  };
}

const n = (x: number, digits = 0): string => x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** Whether a row fits the overlay's HPA maxima, as the table's last column says it. */
export function fits(i: Record<string, number>, r: Row): string {
  const over = [
    r.pods > need(i, 'MAX_REPLICAS') ? `app ${r.pods} > ${i.MAX_REPLICAS}` : '',
    r.gateways > need(i, 'MAX_GATEWAYS') ? `gateways ${r.gateways} > ${i.MAX_GATEWAYS}` : '',
  ].filter(Boolean);
  return over.length === 0 ? 'yes' : `no: ${over.join(', ')}`;
}

/** The table and the arithmetic, as the doc shows them. */
export function render(i: Record<string, number>): string {
  const rows = RATES.map((r) => model(i, r));
  const perPod = perPodAtTarget(i);
  const perGw = perGatewayAtTarget(i);
  const hopPerK = hopCpuPerReq(i) * 1000;
  const nodePeak = i.PODS_PER_AGENT! * perPod * hopCpuPerReq(i);
  const out = [
    '| req/s | service pods | agents | gateways | vCPU requested | memory GiB | OTLP in cluster Mbit/s | egress GB/month | $/month | within the overlay\'s maxReplicas |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${n(r.rate)} | ${r.pods} | ${r.agents} | ${r.gateways} | ${n(r.vcpu, 2)} | ${n(r.memoryGib, 2)} | ${n(r.clusterMbps, 1)} | ${n(r.egressGbMonth)} | ${n(r.cost.total)} | ${fits(i, r)} |`,
    ),
    '',
    `**Per pod and per hop.**`,
    `app pod at the HPA target = ${i.POD_CPU_REQUEST} x ${i.HPA_TARGET} / ${i.CPU_PER_REQ_US} us = ${n(perPod, 1)} req/s;`,
    `Collector CPU per hop per 1,000 req/s = ${n(i.SPANS_PER_1K!)} spans/s / 10,000 x ${i.COL_CPU_PER_10K_SPANS} + ${n(i.LOGS_PER_1K!)} log records/s / 10,000 x ${i.COL_CPU_PER_10K_LOGS} = ${n(hopPerK, 5)} vCPU;`,
    `gateway at its HPA target = ${i.GATEWAY_CPU_REQUEST} x ${i.GATEWAY_TARGET} / (${n(hopPerK, 5)} / 1,000 x ${i.GATEWAY_FACTOR}) = ${n(perGw, 1)} req/s;`,
    `agent on a node of ${i.PODS_PER_AGENT} app pods at the target = ${i.PODS_PER_AGENT} x ${n(perPod, 1)} x ${n(hopPerK, 5)} / 1,000 = ${n(nodePeak, 4)} vCPU, within its ${i.AGENT_CPU_REQUEST} vCPU request;`,
    `the overlay's maxima serve ${i.MAX_REPLICAS} x ${n(perPod, 1)} = ${n(i.MAX_REPLICAS! * perPod)} req/s (app) and ${i.MAX_GATEWAYS} x ${n(perGw, 1)} = ${n(i.MAX_GATEWAYS! * perGw)} req/s (gateways) at their targets;`,
    `past them the app pods run above the target up to their ${i.POD_CPU_LIMIT} CPU limit, ${i.MAX_REPLICAS} x ${n(i.R_CORE!)} x ${i.POD_CPU_LIMIT} = ${n(i.MAX_REPLICAS! * i.R_CORE! * i.POD_CPU_LIMIT!)} req/s at saturation.`,
    '',
  ];
  for (const r of rows) {
    const spans = (r.rate * i.SPANS_PER_1K!) / 1000;
    out.push(
      `**${n(r.rate)} req/s.**`,
      `service pods = max(${i.MIN_REPLICAS}, ceil(${n(r.rate)} / ${n(perPod, 1)})) = ${r.pods}${r.pods > i.MAX_REPLICAS! ? `, past the overlay's maxReplicas ${i.MAX_REPLICAS}` : ''};`,
      `Collector CPU per hop = ${n(r.rate)} / 1,000 x ${n(hopPerK, 5)} = ${n(r.hopCpu, 4)} vCPU;`,
      `agents = ceil(${r.pods} / ${i.PODS_PER_AGENT}) = ${r.agents}, ${n(r.hopCpu / r.agents, 4)} vCPU each;`,
      `gateways = max(${i.MIN_GATEWAYS}, ceil(${n(r.rate)} / ${n(perGw, 1)})) = ${r.gateways}${r.gateways > i.MAX_GATEWAYS! ? `, past the overlay's maxReplicas ${i.MAX_GATEWAYS}` : ''};`,
      `vCPU requested = ${r.pods} x ${i.POD_CPU_REQUEST} + ${r.agents} x ${i.AGENT_CPU_REQUEST} + ${r.gateways} x ${i.GATEWAY_CPU_REQUEST} = ${n(r.vcpu, 2)};`,
      `memory requested = ${r.pods} x ${i.POD_MEM_GIB} + ${r.agents} x ${i.AGENT_MEM_GIB} + ${r.gateways} x ${i.GATEWAY_MEM_GIB} = ${n(r.memoryGib, 2)} GiB;`,
      `OTLP in cluster = (${n(r.rate)} x (${n(i.TRACE_BYTES_PER_1K!)} + ${n(i.LOG_BYTES_PER_1K!)}) / 1,000 + ${r.pods} x ${n(i.METRIC_BYTES_PER_POD_S!)}) B/s x 8 = ${n(r.clusterMbps, 1)} Mbit/s from the pods to the agents;`,
      `egress = (${n(r.rate)} x (${n(i.TRACE_BYTES_PER_1K!)} x ${i.KEEP} / ${i.GZIP_TRACES} + ${n(i.LOG_BYTES_PER_1K!)} / ${i.GZIP_LOGS}) / 1,000 + ${r.pods} x ${n(i.METRIC_BYTES_PER_POD_S!)}) B/s x 3,600 x ${i.HOURS_MONTH} / 10^9 = ${n(r.egressGbMonth)} GB/month;`,
      `tail-sampling buffer per gateway = ${n(spans)} spans/s x ${i.DECISION_WAIT_S} s x ${n(i.TRACE_BYTES_PER_1K! / i.SPANS_PER_1K!, 1)} B / ${r.gateways} = ${n(r.bufferMbPerGateway, 1)} MB (wire size);`,
      `cost = ${n(r.vcpu, 2)} x $${i.PRICE_VCPU_H} x ${i.HOURS_MONTH} ($${n(r.cost.cpu, 2)}) + ${n(r.memoryGib, 2)} x $${i.PRICE_GIB_H} x ${i.HOURS_MONTH} ($${n(r.cost.memory, 2)}) + ${n(r.egressGbMonth)} x $${i.PRICE_EGRESS_GB} ($${n(r.cost.egress, 2)}) = $${n(r.cost.total)}.`,
      '',
    );
  }
  return out.join('\n');
}

if (import.meta.main) process.stdout.write(render(parseInputs(readFileSync(DOC, 'utf8'))));
