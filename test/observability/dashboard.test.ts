// The Grafana dashboard as Grafana provisions it: the data sources the stack provides (uids prometheus and jaeger),
// unique panel ids, panels inside the 24-column grid without overlaps, and every panel the issue asks for. Its
// Prometheus queries are run against a real Prometheus in prometheus.test.ts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../helpers/service.ts';

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: { datasource?: { uid: string }; expr?: string }[];
}
const dashboard = JSON.parse(readFileSync(join(ROOT, 'k8s/overlays/observability/grafana/dashboards/inference-service.json'), 'utf8')) as {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string }[] };
};

test('every panel reads from the provisioned data sources, prometheus or jaeger', () => {
  assert.equal(dashboard.uid, 'ai-inference-service');
  for (const p of dashboard.panels.filter((p) => p.type !== 'row')) {
    assert.ok(['prometheus', 'jaeger'].includes(p.datasource?.uid ?? ''), `${p.title}: data source ${p.datasource?.uid}`);
    assert.ok((p.targets ?? []).length > 0, `${p.title} has a query`);
    for (const t of p.targets!) assert.equal(t.datasource?.uid, p.datasource!.uid, `${p.title}: target data source`);
  }
});

test('panel ids are unique and panels sit inside the grid without overlapping', () => {
  const ids = dashboard.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length);
  const cells = new Set<string>();
  for (const p of dashboard.panels) {
    const { x, y, w, h } = p.gridPos;
    assert.ok(x >= 0 && w > 0 && x + w <= 24, `${p.title} inside 24 columns`);
    for (let i = x; i < x + w; i++) {
      for (let j = y; j < y + h; j++) {
        assert.ok(!cells.has(`${i},${j}`), `${p.title} overlaps another panel at ${i},${j}`);
        cells.add(`${i},${j}`);
      }
    }
  }
});

test('the dashboard has the panels the issue lists, each over the metric that answers it', () => {
  const exprs = (title: RegExp) => {
    const p = dashboard.panels.find((p) => title.test(p.title));
    assert.ok(p, `a panel titled ${title}`);
    return p.targets!.map((t) => t.expr ?? JSON.stringify(t)).join('\n');
  };
  assert.match(exprs(/^Request rate/), /http_requests_total/);
  assert.match(exprs(/^Error rate/), /status=~"5\.\."/);
  const quantiles = exprs(/p50 \/ p95 \/ p99/);
  for (const q of ['0.50', '0.95', '0.99']) assert.match(quantiles, new RegExp(`histogram_quantile\\(${q}, .*prediction_latency_ms_milliseconds_bucket`));
  assert.equal(dashboard.panels.find((p) => /heatmap/i.test(p.title))?.type, 'heatmap');
  assert.match(exprs(/^Predictions by model/), /predictions_by_model_total/);
  assert.match(exprs(/queue depth/i), /model_pending_requests/);
  assert.match(exprs(/^Rejections/), /requests_rejected_total/);
  assert.match(exprs(/export outcome/), /telemetry_export_items_total/);
  assert.match(exprs(/^Event-loop delay/), /nodejs_eventloop_delay_p99_seconds/);
  assert.match(exprs(/^Heap/), /v8js_memory_heap_used_bytes/);
  assert.match(exprs(/^CPU/), /process_cpu_time_seconds_total/);
  assert.match(exprs(/slowest recent traces/i), /"minDuration":"200ms"/);
  assert.deepEqual(dashboard.templating.list.map((v) => v.name), ['job']);
});
