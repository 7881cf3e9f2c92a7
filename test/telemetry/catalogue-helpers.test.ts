// The catalogue's helpers without a running service: CountTable's add/create/observe contract, and createInstruments
// on a real SDK MeterProvider, collected by a reader: every metric of the README's table (the service's scope) with
// its type, unit and buckets; telemetry_export_items_total only with an outcomes callback; the histogram tables
// recording into a HistogramProducer when given one, into the meter's own Histogram otherwise.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ValueType, type Attributes, type Meter } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  MetricReader,
  type HistogramMetricData,
  type MetricData,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { BATCH_SIZE_BUCKETS, BATCHER_DURATION_BUCKETS_MS, CountTable, createInstruments, HTTP_DURATION_BUCKETS_S, PREDICTION_LATENCY_BUCKETS_MS, SCOPE, type ExportOutcomes, type Instruments } from '../../src/telemetry/catalogue.ts';
import { HistogramProducer } from '../../src/telemetry/histograms.ts';

class Reader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const resource = resourceFromAttributes({ 'service.name': 'svc' });

/** The README's metrics of the service's own scope: the first table under "### Metrics". */
const README_METRICS = (() => {
  const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n### Metrics\n'));
  const lines = section.split('\n');
  const first = lines.findIndex((l) => l.startsWith('| `'));
  const rows: { name: string; type: string; unit: string; attributes: string[]; notes: string }[] = [];
  for (const line of lines.slice(first)) {
    if (!line.startsWith('| ')) break;
    const [name, type, unit, attributes, notes] = line.slice(1, -1).split(' | ').map((c) => c.trim());
    const code = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    rows.push({ name: code(name!)[0]!, type: type!, unit: code(unit!)[0]!, attributes: code(attributes!), notes: notes! });
  }
  assert.ok(rows.length >= 5, 'the README lists the service\'s metrics');
  return rows;
})();

const KIND: Record<string, (m: MetricData) => boolean> = {
  Counter: (m) => m.dataPointType === DataPointType.SUM && m.isMonotonic,
  UpDownCounter: (m) => m.dataPointType === DataPointType.SUM && !m.isMonotonic,
  Histogram: (m) => m.dataPointType === DataPointType.HISTOGRAM,
  Gauge: (m) => m.dataPointType === DataPointType.GAUGE,
};

/** Every metric of a collection, by name; a name collected twice fails. */
function byName(rm: ResourceMetrics): Map<string, MetricData> {
  const out = new Map<string, MetricData>();
  for (const sm of rm.scopeMetrics) {
    assert.equal(sm.scope.name, SCOPE.name);
    for (const m of sm.metrics) {
      assert.ok(!out.has(m.descriptor.name), `${m.descriptor.name} is collected once`);
      out.set(m.descriptor.name, m);
    }
  }
  return out;
}

async function collect(reader: MetricReader): Promise<Map<string, MetricData>> {
  const { resourceMetrics, errors } = await reader.collect();
  assert.deepEqual(errors, []);
  return byName(resourceMetrics);
}

/** One record into every instrument, so that each has a point to collect. */
function recordOnce(i: Instruments): void {
  i.httpRequests.create('GET /health 200', { method: 'GET', endpoint: '/health', status: '200' }, 1);
  i.httpServerRequestDuration.create('GET /health 200', { 'http.request.method': 'GET', 'http.route': '/health', 'http.response.status_code': 200, 'url.scheme': 'http' }, 0.003);
  i.activeRequests.create('GET http', { 'http.request.method': 'GET', 'url.scheme': 'http' }, 0);
  i.predictionLatencyMs.create('model /predict', { 'model.name': 'm', endpoint: '/predict' }, 12);
  i.predictions.create('model /predict', { 'model.name': 'm', endpoint: '/predict' }, 8);
  i.requestsRejected.add(1, { reason: 'overloaded' });
  i.queueDurationMs.create('m', { 'model.name': 'm' }, 0.4);
  i.computeDurationMs.create('m', { 'model.name': 'm' }, 100);
  i.batchSize.create('m', { 'model.name': 'm' }, 8);
  i.executions.create('m', { 'model.name': 'm' }, 1);
  i.pendingRequests.create('m', { 'model.name': 'm' }, 0);
  i.predictionsByModel.create('success', { 'model.name': 'm', outcome: 'success' }, 8);
}

const OUTCOMES: [string, ExportOutcomes][] = [
  ['spans', { exported: 10, failed: 2, dropped: 1 }],
  ['metric_points', { exported: 7, failed: 0, dropped: 0 }],
  ['log_records', { exported: 3, failed: 1, dropped: 5 }],
];

/** The meter, with the name of every instrument made through it noted down. */
function recording(meter: Meter): { meter: Meter; made: string[] } {
  const made: string[] = [];
  const proxy = new Proxy(meter, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof prop !== 'string' || !prop.startsWith('create') || typeof value !== 'function') return value;
      return (name: string, ...rest: unknown[]) => {
        made.push(name);
        return (value as (...args: unknown[]) => unknown).call(target, name, ...rest);
      };
    },
  });
  return { meter: proxy, made };
}

const points = (m: MetricData | undefined) => (m?.dataPoints ?? []).map((p) => ({ attributes: p.attributes, value: p.value }));

describe('CountTable', () => {
  /** What an observable callback is handed: here, a list of what was observed. */
  const observed = (table: CountTable) => {
    const out: { value: number; attributes?: Attributes }[] = [];
    table.observe({ observe: (value, attributes) => void out.push({ value, attributes }) });
    return out;
  };

  test('add refuses a key that has no row and records nothing', () => {
    const table = new CountTable();
    assert.equal(table.add('missing', 5), false);
    assert.deepEqual(observed(table), []);
  });

  test('create makes the row, then add accumulates into it', () => {
    const table = new CountTable();
    table.create('a', { k: 'a' }, 2);
    assert.equal(table.add('a', 3), true);
    assert.equal(table.add('a', 0.5), true);
    assert.deepEqual(observed(table), [{ value: 5.5, attributes: { k: 'a' } }]);
  });

  test('observe reports every row once, with its own attributes, and again (cumulatively) at the next observation', () => {
    const table = new CountTable();
    table.create('a', { k: 'a' }, 1);
    table.create('b', { k: 'b', n: 2 }, 10);
    table.add('b', -4); // up-down counters go down too
    assert.deepEqual(observed(table), [
      { value: 1, attributes: { k: 'a' } },
      { value: 6, attributes: { k: 'b', n: 2 } },
    ]);
    table.add('a', 1);
    assert.deepEqual(observed(table), [
      { value: 2, attributes: { k: 'a' } },
      { value: 6, attributes: { k: 'b', n: 2 } },
    ]);
  });
});

describe('createInstruments', () => {
  test('every metric of the README\'s table is made, with its type, unit, a description and integer counts', async () => {
    const reader = new Reader();
    const meter = new MeterProvider({ resource, readers: [reader] }).getMeter(SCOPE.name, SCOPE.version);
    recordOnce(createInstruments(meter, undefined, () => OUTCOMES));
    const metrics = await collect(reader);
    assert.deepEqual([...metrics.keys()].sort(), README_METRICS.map((r) => r.name).sort());
    for (const row of README_METRICS) {
      const m = metrics.get(row.name)!;
      assert.ok(KIND[row.type]?.(m), `${row.name} is a ${row.type}`);
      assert.equal(m.descriptor.unit, row.unit, `${row.name} unit`);
      assert.match(m.descriptor.description, /^[A-Z].{10,}\.$/, `${row.name} has a description (a sentence)`);
      if (row.type !== 'Histogram' && row.unit !== 's') assert.equal(m.descriptor.valueType, ValueType.INT, `${row.name} counts in integers (seconds are fractional)`);
      for (const p of m.dataPoints) {
        for (const k of Object.keys(p.attributes)) assert.ok(row.attributes.includes(k), `${row.name}: attribute ${k} is in the README`);
      }
    }
  });

  test('the histograms have the buckets the README and the catalogue constants give', async () => {
    const reader = new Reader();
    const meter = new MeterProvider({ resource, readers: [reader] }).getMeter(SCOPE.name, SCOPE.version);
    recordOnce(createInstruments(meter));
    const metrics = await collect(reader);
    const boundaries = (name: string) => [...(metrics.get(name) as HistogramMetricData).dataPoints[0]!.value.buckets.boundaries];
    const readmeBuckets = README_METRICS.find((r) => r.name === 'prediction_latency_ms')!.notes.match(/buckets ([\d, ]+)/)![1]!.split(', ').map(Number);
    assert.deepEqual(boundaries('prediction_latency_ms'), readmeBuckets);
    assert.deepEqual(boundaries('prediction_latency_ms'), PREDICTION_LATENCY_BUCKETS_MS);
    assert.deepEqual(boundaries('http.server.request.duration'), HTTP_DURATION_BUCKETS_S);
    const queueBuckets = README_METRICS.find((r) => r.name === 'model_queue_duration_ms')!.notes.match(/buckets ([\d., ]+\d)/)![1]!.split(', ').map(Number);
    assert.deepEqual(boundaries('model_queue_duration_ms'), queueBuckets);
    assert.deepEqual(boundaries('model_queue_duration_ms'), BATCHER_DURATION_BUCKETS_MS);
    assert.deepEqual(boundaries('model_compute_duration_ms'), BATCHER_DURATION_BUCKETS_MS);
    assert.deepEqual(boundaries('model_batch_size'), BATCH_SIZE_BUCKETS);
  });

  test('telemetry_export_items_total is made only with an outcomes callback', async () => {
    const reader = new Reader();
    const meter = new MeterProvider({ resource, readers: [reader] }).getMeter(SCOPE.name, SCOPE.version);
    const without = recording(meter);
    recordOnce(createInstruments(without.meter));
    assert.deepEqual(without.made.sort(), README_METRICS.map((r) => r.name).filter((n) => n !== 'telemetry_export_items_total').sort());
    assert.equal((await collect(reader)).has('telemetry_export_items_total'), false);

    const other = new MeterProvider({ resource }).getMeter(SCOPE.name, SCOPE.version);
    const withCallback = recording(other);
    createInstruments(withCallback.meter, undefined, () => []);
    assert.ok(withCallback.made.includes('telemetry_export_items_total'));
  });

  test('telemetry_export_items_total reports one point per signal and outcome, read at each collection', async () => {
    const reader = new Reader();
    const meter = new MeterProvider({ resource, readers: [reader] }).getMeter(SCOPE.name, SCOPE.version);
    let outcomes = OUTCOMES;
    createInstruments(meter, undefined, () => outcomes);
    const expected = (list: typeof OUTCOMES) =>
      list.flatMap(([signal, o]) => (['exported', 'failed', 'dropped'] as const).map((outcome) => ({ attributes: { signal, outcome }, value: o[outcome] })));
    assert.deepEqual(points((await collect(reader)).get('telemetry_export_items_total')), expected(OUTCOMES));
    outcomes = [['spans', { exported: 11, failed: 2, dropped: 1 }]];
    const second = points((await collect(reader)).get('telemetry_export_items_total'));
    assert.deepEqual(second.find((p) => p.attributes.signal === 'spans' && p.attributes.outcome === 'exported'), { attributes: { signal: 'spans', outcome: 'exported' }, value: 11 });
  });

  test('the count tables report through the meter: created rows, added values, one point per row', async () => {
    const reader = new Reader();
    const meter = new MeterProvider({ resource, readers: [reader] }).getMeter(SCOPE.name, SCOPE.version);
    const i = createInstruments(meter);
    assert.equal(i.httpRequests.add('POST /predict 200', 1), false);
    i.httpRequests.create('POST /predict 200', { method: 'POST', endpoint: '/predict', status: '200' }, 1);
    i.httpRequests.add('POST /predict 200', 1);
    i.httpRequests.create('GET unmatched 404', { method: 'GET', endpoint: 'unmatched', status: '404' }, 1);
    i.activeRequests.create('POST http', { 'http.request.method': 'POST', 'url.scheme': 'http' }, 1);
    i.activeRequests.add('POST http', -1);
    const metrics = await collect(reader);
    assert.deepEqual(points(metrics.get('http_requests_total')), [
      { attributes: { method: 'POST', endpoint: '/predict', status: '200' }, value: 2 },
      { attributes: { method: 'GET', endpoint: 'unmatched', status: '404' }, value: 1 },
    ]);
    assert.deepEqual(points(metrics.get('http.server.active_requests')), [{ attributes: { 'http.request.method': 'POST', 'url.scheme': 'http' }, value: 0 }]);
    assert.equal(metrics.has('predictions_total'), false, 'a table without rows reports nothing');
  });

  test('with a HistogramProducer the histogram tables record into it, and the meter has no histogram of its own', async () => {
    const producer = new HistogramProducer(SCOPE, AggregationTemporality.CUMULATIVE, resource);
    const plain = new Reader();
    const withTables = new Reader({ metricProducers: [producer] });
    const meter = new MeterProvider({ resource, readers: [plain, withTables] }).getMeter(SCOPE.name, SCOPE.version);
    const i = createInstruments(meter, producer);
    i.predictionLatencyMs.create('m /predict', { 'model.name': 'm', endpoint: '/predict' }, 12);
    assert.equal(i.predictionLatencyMs.record('m /predict', 30), true, 'the table records by key');
    i.httpServerRequestDuration.create('GET /health 200', { 'http.route': '/health' }, 0.003);

    const fromMeter = await collect(plain);
    assert.equal(fromMeter.has('prediction_latency_ms'), false);
    assert.equal(fromMeter.has('http.server.request.duration'), false);

    const fromTables = await collect(withTables); // each name once: the tables' metric, not a second one from the meter
    const latency = fromTables.get('prediction_latency_ms') as HistogramMetricData;
    assert.deepEqual([latency.descriptor.unit, latency.dataPoints[0]!.attributes, latency.dataPoints[0]!.value.count, latency.dataPoints[0]!.value.sum], ['ms', { 'model.name': 'm', endpoint: '/predict' }, 2, 42]);
    assert.deepEqual([...latency.dataPoints[0]!.value.buckets.boundaries], PREDICTION_LATENCY_BUCKETS_MS);
    assert.equal((fromTables.get('http.server.request.duration') as HistogramMetricData).descriptor.unit, 's');
  });

  test('without a producer the histogram tables record into the meter\'s own Histogram', async () => {
    const reader = new Reader();
    const meter = new MeterProvider({ resource, readers: [reader] }).getMeter(SCOPE.name, SCOPE.version);
    const i = createInstruments(meter);
    i.predictionLatencyMs.create('m /predict', { 'model.name': 'm', endpoint: '/predict' }, 12);
    assert.equal(i.predictionLatencyMs.record('m /predict', 30), false, 'no table: the caller creates (records into the SDK) every time');
    i.predictionLatencyMs.create('m /predict', { 'model.name': 'm', endpoint: '/predict' }, 30);
    const latency = (await collect(reader)).get('prediction_latency_ms') as HistogramMetricData;
    assert.equal(latency.dataPointType, DataPointType.HISTOGRAM);
    assert.deepEqual([latency.descriptor.unit, latency.dataPoints[0]!.attributes, latency.dataPoints[0]!.value.count, latency.dataPoints[0]!.value.sum], ['ms', { 'model.name': 'm', endpoint: '/predict' }, 2, 42]);
    assert.deepEqual([...latency.dataPoints[0]!.value.buckets.boundaries], PREDICTION_LATENCY_BUCKETS_MS);
  });
});

