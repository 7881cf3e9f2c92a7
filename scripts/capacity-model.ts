// The capacity model of docs/CAPACITY.md: reads the inputs table of the doc, prints the sizing table and the
// arithmetic behind each row, in the doc's format. `node scripts/capacity-model.ts` after changing an input, then
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
  pods: number;
  agents: number;
  agentVcpu: number;
  gateways: number;
  vcpu: number;
  memoryGib: number;
  clusterMbps: number;
  egressGbMonth: number;
  bufferMbPerGateway: number;
  cost: { cpu: number; memory: number; egress: number; total: number };
}

export function model(i: Record<string, number>, rate: number): Row {
  const need = (k: string): number => {
    const v = i[k];
    if (v === undefined || !Number.isFinite(v)) throw new Error(`input ${k} missing from docs/CAPACITY.md`);
    return v;
  };
  const perPod = need('R_CORE') * need('U') * need('POD_VCPU');
  const pods = Math.max(need('MIN_REPLICAS'), Math.ceil(rate / perPod));
  const spansPerS = (rate * need('SPANS_PER_1K')) / 1000;
  const logsPerS = (rate * need('LOGS_PER_1K')) / 1000;
  const hopCpu = (spansPerS / 10_000) * need('COL_CPU_PER_10K_SPANS') + (logsPerS / 10_000) * need('COL_CPU_PER_10K_LOGS');
  const agents = Math.ceil(pods / need('PODS_PER_AGENT'));
  const agentVcpu = hopCpu / need('U');
  const gateways = Math.max(need('MIN_GATEWAYS'), Math.ceil((hopCpu * need('GATEWAY_FACTOR')) / (need('GATEWAY_VCPU') * need('U'))));
  const vcpu = pods * need('POD_VCPU') + agentVcpu + gateways * need('GATEWAY_VCPU');
  const memoryGib = pods * need('POD_MEM_GIB') + agents * need('AGENT_MEM_GIB') + gateways * need('GATEWAY_MEM_GIB');
  const metricBytesPerS = pods * need('METRIC_BYTES_PER_POD_S');
  const clusterBytesPerS = (rate * (need('TRACE_BYTES_PER_1K') + need('LOG_BYTES_PER_1K'))) / 1000 + metricBytesPerS;
  const egressBytesPerS =
    (rate * ((need('TRACE_BYTES_PER_1K') * need('KEEP')) / need('GZIP_TRACES') + need('LOG_BYTES_PER_1K') / need('GZIP_LOGS'))) / 1000 + metricBytesPerS;
  const hours = need('HOURS_MONTH');
  const egressGbMonth = (egressBytesPerS * 3600 * hours) / 1e9;
  const cpu = vcpu * need('PRICE_VCPU_H') * hours;
  const memory = memoryGib * need('PRICE_GIB_H') * hours;
  const egress = egressGbMonth * need('PRICE_EGRESS_GB');
  const bufferMbPerGateway = (spansPerS * need('DECISION_WAIT_S') * (need('TRACE_BYTES_PER_1K') / need('SPANS_PER_1K'))) / gateways / 1e6;
  return {
    rate,
    pods,
    agents,
    agentVcpu,
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

/** The table and the arithmetic, as the doc shows them. */
export function render(i: Record<string, number>): string {
  const rows = RATES.map((r) => model(i, r));
  const out = [
    '| req/s | service pods | agents | gateways | vCPU | memory GiB | OTLP in cluster Mbit/s | egress GB/month | $/month |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${n(r.rate)} | ${r.pods} | ${r.agents} | ${r.gateways} | ${n(r.vcpu, 2)} | ${n(r.memoryGib, 2)} | ${n(r.clusterMbps, 1)} | ${n(r.egressGbMonth)} | ${n(r.cost.total)} |`,
    ),
    '',
  ];
  for (const r of rows) {
    const spans = (r.rate * i.SPANS_PER_1K!) / 1000;
    const logs = (r.rate * i.LOGS_PER_1K!) / 1000;
    const hop = (spans / 10_000) * i.COL_CPU_PER_10K_SPANS! + (logs / 10_000) * i.COL_CPU_PER_10K_LOGS!;
    out.push(
      `**${n(r.rate)} req/s.**`,
      `service pods = max(${i.MIN_REPLICAS}, ceil(${n(r.rate)} / (${n(i.R_CORE!)} x ${i.U} x ${i.POD_VCPU}))) = ${r.pods};`,
      `Collector CPU per hop = ${n(spans)} spans/s / 10,000 x ${i.COL_CPU_PER_10K_SPANS} + ${n(logs)} log records/s / 10,000 x ${i.COL_CPU_PER_10K_LOGS} = ${n(hop, 4)} vCPU;`,
      `agents = ceil(${r.pods} / ${i.PODS_PER_AGENT}) = ${r.agents}, their CPU ${n(hop, 4)} / ${i.U} = ${n(r.agentVcpu, 4)} vCPU;`,
      `gateways = max(${i.MIN_GATEWAYS}, ceil(${n(hop, 4)} x ${i.GATEWAY_FACTOR} / (${i.GATEWAY_VCPU} x ${i.U}))) = ${r.gateways};`,
      `vCPU = ${r.pods} x ${i.POD_VCPU} + ${n(r.agentVcpu, 4)} + ${r.gateways} x ${i.GATEWAY_VCPU} = ${n(r.vcpu, 2)};`,
      `memory = ${r.pods} x ${i.POD_MEM_GIB} + ${r.agents} x ${i.AGENT_MEM_GIB} + ${r.gateways} x ${i.GATEWAY_MEM_GIB} = ${n(r.memoryGib, 2)} GiB;`,
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
