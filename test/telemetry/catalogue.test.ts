// The README's telemetry catalogue against what the service really exports, both ways: nothing exported that
// the catalogue does not list, nothing listed (unless marked conditional) that is not exported.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { VARIABLES } from '../../src/shared/config.ts';
import { OtlpReceiver } from '../../src/receiver/receiver.ts';
import type { ReceivedMetric } from '../../src/receiver/otlp-model.ts';
import { fastExportEnv, postJson, ROOT, startService, type RunningService } from '../helpers/service.ts';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** Rows (cells) of every markdown table between `### heading` and the next heading of level 2 or 3. */
function tables(heading: string): string[][] {
  const start = README.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `README has a "${heading}" section`);
  const rest = README.slice(start + heading.length + 2);
  const end = rest.search(/\n##+ /);
  return (end < 0 ? rest : rest.slice(0, end))
    .split('\n')
    .filter((l) => l.startsWith('| ') && !/^\|[-| ]+\|$/.test(l))
    .map((l) => l.slice(1, -1).split(' | ').map((c) => c.trim()));
}
const names = (cell: string) => [...cell.matchAll(/`([^`]+)`(\*?)/g)].map((m) => ({ name: m[1]!, optional: m[2] === '*' }));

interface Row {
  attrs: { name: string; optional: boolean }[];
}
const SPANS = new Map<string, Row & { kind: string }>();
for (const [span, kind, , attrs] of tables('### Spans').filter((r) => r[0] !== 'Span')) {
  SPANS.set(names(span!)[0]!.name, { kind: kind!, attrs: names(attrs!) });
}
const METRICS = new Map<string, Row & { type: string; unit: string; optional: boolean }>();
for (const [metric, type, unit, attrs, notes] of tables('### Metrics').filter((r) => r[0] !== 'Metric')) {
  METRICS.set(names(metric!)[0]!.name, {
    type: type!,
    unit: names(unit!)[0]!.name,
    attrs: names(attrs!),
    optional: (notes ?? '').startsWith('only after'),
  });
}
const LOG_FIELDS = new Set(tables('### Logs').filter((r) => r[0] !== 'Field').map((r) => names(r[0]!)[0]!.name));

const TYPE_OF: Record<string, (m: ReceivedMetric) => boolean> = {
  Counter: (m) => m.type === 'Sum' && m.isMonotonic === true,
  UpDownCounter: (m) => m.type === 'Sum' && m.isMonotonic === false,
  Histogram: (m) => m.type === 'Histogram',
  Gauge: (m) => m.type === 'Gauge',
};

describe('the telemetry catalogue in the README', () => {
  let receiver: OtlpReceiver;
  let svc: RunningService;
  before(async () => {
    receiver = new OtlpReceiver({ grpcPort: 0, httpPort: 0, healthPort: 0 });
    await receiver.start();
    // Every request waits 2 ms for its batch to fill, so that each trace has a queue span.
    svc = await startService({ ...fastExportEnv(receiver.grpcUrl), MAX_QUEUE_DELAY_US: '2000' });
    await postJson(`${svc.url}/predict`, { features: [0.5, 1.5, 2.0] }, { 'user-agent': 'catalogue-test' });
    await postJson(`${svc.url}/predict/batch`, { instances: [[1, 2], [3, 4]] });
    await postJson(`${svc.url}/predict`, { invalid: 'data' });
    await postJson(`${svc.url}/predict`, '{"features": [1,');
    await fetch(`${svc.url}/no-such-route`);
    for (const path of ['/health', '/livez', '/readyz']) await fetch(`${svc.url}${path}`);
    // Runtime event-loop delay gauges need a few samples; then SIGTERM flushes everything.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await svc.stop('SIGTERM'), 0);
  });
  after(async () => {
    await svc?.stop();
    await receiver?.stop();
  });

  test('lists every exported span with its kind and attributes, and every listed span is exported', () => {
    const server = SPANS.get('{method} {route}')!;
    assert.ok(server, 'the server span row');
    const exportedServer = receiver.spans.filter((s) => s.kind === 2);
    assert.ok(exportedServer.length >= 8);
    for (const s of exportedServer) {
      assert.match(s.name, /^[A-Z]+( \/\S*)?$/, 'server span named {method} {route} or {method}');
      const keys = Object.keys(s.attributes);
      for (const k of keys) assert.ok(server.attrs.some((a) => a.name === k), `server span attribute ${k} is in the catalogue`);
      for (const a of server.attrs.filter((a) => !a.optional)) assert.ok(keys.includes(a.name), `${a.name} on ${s.name}`);
    }
    for (const a of server.attrs) {
      if (a.name === 'error.type') continue; // 5xx and aborted requests only; no route of the service fails on purpose
      assert.ok(exportedServer.some((s) => a.name in s.attributes), `catalogue attribute ${a.name} was exported at least once`);
    }
    const internal = receiver.spans.filter((s) => s.kind !== 2);
    for (const s of internal) {
      const row = SPANS.get(s.name);
      assert.ok(row, `span ${s.name} is in the catalogue`);
      assert.equal(row.kind, 'Internal');
      assert.deepEqual(Object.keys(s.attributes).sort(), row.attrs.map((a) => a.name).sort(), `attributes of ${s.name}`);
    }
    for (const [name, row] of SPANS) {
      if (row.kind === 'Internal') assert.ok(internal.some((s) => s.name === name), `${name} exported`);
    }
  });

  test('links every batch span to the server span of each request it served, and each such server span back to its batch', () => {
    const batches = receiver.spans.filter((s) => s.name === 'batch');
    assert.ok(batches.length >= 2, 'the /predict and /predict/batch requests each ran in a batch');
    const servers = new Map(receiver.spans.filter((s) => s.kind === 2).map((s) => [s.spanId, s]));
    for (const b of batches) {
      assert.equal(b.parentSpanId, '', 'a batch span is the root of its own trace');
      assert.equal(b.links.length, b.attributes['model.batch.requests'], 'one link per request served');
      for (const link of b.links) {
        const server = servers.get(link.spanId);
        assert.ok(server, 'the batch links to an exported server span');
        assert.equal(server.traceId, link.traceId);
        assert.deepEqual(server.links.map((l) => [l.traceId, l.spanId]), [[b.traceId, b.spanId]], `${server.name} links back to its batch`);
      }
    }
    const predicted = [...servers.values()].filter((s) => s.attributes['http.response.status_code'] === 200 && String(s.name).startsWith('POST /predict'));
    assert.ok(predicted.length >= 2);
    for (const s of predicted) assert.equal(s.links.length, 1, `${s.name} links to the batch it rode in`);
  });

  test('lists every exported metric with its type, unit and attributes, and every listed metric is exported', () => {
    const exported = new Map<string, ReceivedMetric[]>();
    for (const m of receiver.metrics) exported.set(m.name, [...(exported.get(m.name) ?? []), m]);
    for (const [name, ms] of exported) {
      const row = METRICS.get(name);
      assert.ok(row, `metric ${name} is in the catalogue`);
      for (const m of ms) {
        assert.ok(TYPE_OF[row.type]!(m), `${name} is a ${row.type} (exported ${m.type}, monotonic ${m.isMonotonic})`);
        assert.equal(m.unit, row.unit, `unit of ${name}`);
        for (const p of m.dataPoints) {
          for (const k of Object.keys(p.attributes)) assert.ok(row.attrs.some((a) => a.name === k), `${name} attribute ${k} is in the catalogue`);
        }
      }
      const seen = new Set(ms.flatMap((m) => m.dataPoints.flatMap((p) => Object.keys(p.attributes))));
      for (const a of row.attrs.filter((a) => !a.optional)) assert.ok(seen.has(a.name), `${name} carries ${a.name}`);
    }
    for (const [name, row] of METRICS) if (!row.optional) assert.ok(exported.has(name), `catalogue metric ${name} was exported`);
  });

  test('lists every log field on stdout and every OTLP log attribute', () => {
    const lines = svc.logLines();
    for (const l of lines) {
      for (const k of Object.keys(l)) assert.ok(LOG_FIELDS.has(k), `log field ${k} is in the catalogue`);
      for (const k of ['level', 'time', 'msg']) assert.ok(k in l, `${k} in every line`);
    }
    const received = lines.filter((l) => l.msg === 'Prediction request received');
    assert.ok(received.length >= 1);
    for (const l of received) assert.ok(l.trace_id && l.span_id, 'request lines carry trace_id and span_id');
    for (const r of receiver.logs) {
      for (const k of Object.keys(r.attributes)) assert.ok(LOG_FIELDS.has(k), `OTLP log attribute ${k} is in the catalogue`);
    }
  });
});

test('the README configuration table lists every variable the parser knows, with its default', () => {
  const rows = tables('## Configuration').filter((r) => r[0] !== 'Variable');
  const documented = new Map(rows.map((r) => [names(r[0]!)[0]!.name, r[1]!]));
  for (const v of Object.values(VARIABLES)) {
    assert.ok(documented.has(v.name), `${v.name} is documented`);
    assert.equal(documented.get(v.name), v.default === '' ? '(unset)' : `\`${v.default}\``, `default of ${v.name}`);
  }
  assert.equal(documented.size, Object.keys(VARIABLES).length, 'no undocumented extra rows');
});
