// docs/CAPACITY.md's table must follow from its inputs: this recomputes every cell with its own arithmetic (not the
// script's), checks the arithmetic lines are what scripts/capacity-model.ts prints for these inputs, and checks the
// measured service capacity is the figure docs/PERFORMANCE.md gives.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { render } from '../../scripts/capacity-model.ts';

const doc = readFileSync(new URL('../../docs/CAPACITY.md', import.meta.url), 'utf8');
const perf = readFileSync(new URL('../../docs/PERFORMANCE.md', import.meta.url), 'utf8');
const num = (s: string): number => Number(s.replace(/[$,]/g, ''));

const rows = [...doc.matchAll(/^\| `([A-Z0-9_]+)` \| ([^|]+) \| ([^|]+) \| ([^|]*) \|$/gm)];
const inputs: Record<string, number> = Object.fromEntries(rows.map((m) => [m[1], num(m[2]!.trim())]));

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

test("the service's capacity per core is the full-telemetry median docs/PERFORMANCE.md reports", () => {
  const m = /^\| ours, full telemetry[^|]*\| ([\d,]+) \(/m.exec(perf);
  assert.ok(m, 'no full-telemetry row in docs/PERFORMANCE.md');
  assert.equal(inputs.R_CORE, num(m[1]!));
});

test('every cell of the sizing table follows from the inputs', () => {
  const i = inputs as Record<string, number> & { [k: string]: number };
  const table = [...doc.matchAll(/^\| ([\d,]+) \| (\d+) \| (\d+) \| (\d+) \| ([\d.,]+) \| ([\d.,]+) \| ([\d.,]+) \| ([\d,]+) \| ([\d,]+) \|$/gm)];
  assert.deepEqual(table.map((m) => num(m[1]!)), [1_000, 10_000, 100_000]);
  const close = (actual: number, expected: number, step: number, what: string): void =>
    assert.ok(Math.abs(actual - expected) <= step / 2 + 1e-9, `${what}: the doc says ${actual}, the inputs give ${expected}`);
  for (const m of table) {
    const rate = num(m[1]!);
    const pods = Math.max(i.MIN_REPLICAS!, Math.ceil(rate / (i.R_CORE! * i.U! * i.POD_VCPU!)));
    // Each pod at U of its measured capacity serves the rate; one pod fewer would not.
    assert.ok(pods * i.R_CORE! * i.U! >= rate);
    const hop = ((rate * i.SPANS_PER_1K!) / 1e3 / 1e4) * i.COL_CPU_PER_10K_SPANS! + ((rate * i.LOGS_PER_1K!) / 1e3 / 1e4) * i.COL_CPU_PER_10K_LOGS!;
    const agents = Math.ceil(pods / i.PODS_PER_AGENT!);
    const gateways = Math.max(i.MIN_GATEWAYS!, Math.ceil((hop * i.GATEWAY_FACTOR!) / (i.GATEWAY_VCPU! * i.U!)));
    const vcpu = pods * i.POD_VCPU! + hop / i.U! + gateways * i.GATEWAY_VCPU!;
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
  }
});

test('the table and the arithmetic between the MODEL markers are what scripts/capacity-model.ts prints for these inputs', () => {
  const start = doc.indexOf('-->\n', doc.indexOf('<!-- MODEL:')) + 4;
  const shown = doc.slice(start, doc.indexOf('<!-- /MODEL -->'));
  assert.equal(shown, render(inputs));
});
