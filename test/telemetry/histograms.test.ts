// The service's histograms aggregated by series key (src/telemetry/histograms.ts) against the SDK's own Histogram for the
// same records: the same metric, points, buckets, sums, counts, min and max, start times and temporality, as a
// reader collects them; and the SDK's Histogram whenever the exporter asks for another aggregation.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Attributes, HrTime } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  AggregationType,
  InstrumentType,
  MeterProvider,
  MetricReader,
  type AggregationOption,
  type HistogramMetricData,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { HistogramProducer, HistogramTable, type HistogramOptions } from '../../src/telemetry/histograms.ts';

const resource = resourceFromAttributes({ 'service.name': 'svc' });
const SCOPE = { name: 'inference-service', version: '1.0.0' };
const OPTIONS: HistogramOptions = { description: 'Duration of HTTP server requests.', unit: 's', advice: { explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05] } };

class Reader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const ns = (t: HrTime) => BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);

/** A collection's one histogram, its points in attribute order, times replaced by what they are relative to. */
function shape(rm: ResourceMetrics, marks: { name: string; t: bigint }[]): unknown {
  const metrics = rm.scopeMetrics.flatMap((s) => s.metrics.map((m) => ({ scope: s.scope.name, m: m as HistogramMetricData })));
  return metrics.map(({ scope, m }) => ({
    scope,
    descriptor: { name: m.descriptor.name, description: m.descriptor.description, unit: m.descriptor.unit, valueType: m.descriptor.valueType },
    temporality: m.aggregationTemporality,
    dataPointType: m.dataPointType,
    points: m.dataPoints
      .map((p) => ({
        attributes: p.attributes,
        value: { ...p.value, buckets: { boundaries: [...p.value.buckets.boundaries], counts: [...p.value.buckets.counts] } },
        // Which mark (a record or a collection) the start time falls after: the same for both, not the same clock.
        startsAfter: [...marks].reverse().find((mk) => mk.t <= ns(p.startTime))?.name ?? 'before',
        endsAfter: [...marks].reverse().find((mk) => mk.t <= ns(p.endTime))?.name ?? 'before',
      }))
      .sort((a, b) => JSON.stringify(a.attributes).localeCompare(JSON.stringify(b.attributes))),
  }));
}

const ok: Attributes = { 'http.request.method': 'POST', 'http.route': '/predict', 'http.response.status_code': 200 };
const failed: Attributes = { 'http.request.method': 'POST', 'http.route': '/predict', 'http.response.status_code': 503, 'error.type': '503' };
const other: Attributes = { 'http.request.method': 'GET', 'http.route': '/health', 'http.response.status_code': 200 };

/** Three rounds of records (with a boundary value, values past the last boundary, a negative one, NaN), each collected. */
async function rounds(record: (key: string, attrs: Attributes, value: number) => void, collect: () => Promise<ResourceMetrics>): Promise<unknown[]> {
  const marks: { name: string; t: bigint }[] = [];
  const mark = async (name: string) => {
    await new Promise((r) => setTimeout(r, 5));
    marks.push({ name, t: ns([Math.floor(Date.now() / 1000), (Date.now() % 1000) * 1e6]) - 1_000_000n });
    await new Promise((r) => setTimeout(r, 5));
  };
  const out: ResourceMetrics[] = [];
  await mark('start');
  for (const v of [0.001, 0.005, 0.0051, 1, 0]) record('ok', ok, v);
  record('failed', failed, 0.3);
  record('failed', failed, -1); // refused
  await mark('first records');
  out.push(await collect());
  await mark('first collection');
  record('ok', ok, 0.02);
  record('other', other, Number.NaN); // a series with no count
  record('neg', { ...other, 'http.response.status_code': 500 }, -0.5); // refused before its series exists
  out.push(await collect());
  await mark('second collection');
  record('failed', failed, 0.04);
  out.push(await collect());
  return out.map((rm) => shape(rm, marks));
}

describe('histograms aggregated by series key', () => {
  for (const temporality of [AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA]) {
    test(`collect what the SDK's Histogram collects for the same records (${temporality === AggregationTemporality.DELTA ? 'delta' : 'cumulative'})`, async () => {
      const sdkReader = new Reader({ aggregationTemporalitySelector: () => temporality });
      const meter = new MeterProvider({ resource, readers: [sdkReader] }).getMeter(SCOPE.name, SCOPE.version);
      const sdkHistogram = meter.createHistogram('http.server.request.duration', OPTIONS);
      const fromSdk = await rounds((_k, attrs, v) => sdkHistogram.record(v, attrs), async () => (await sdkReader.collect()).resourceMetrics);

      const producer = new HistogramProducer(SCOPE, temporality, resource);
      const table = new HistogramTable('http.server.request.duration', OPTIONS, producer);
      // The producer through a real reader, as instrumentation.ts gives it to the PeriodicExportingMetricReader.
      const reader = new Reader({ metricProducers: [producer] });
      new MeterProvider({ resource, readers: [reader] });
      const ours = await rounds((k, attrs, v) => {
        if (!table.record(k, v)) table.create(k, attrs, v);
      }, async () => (await reader.collect()).resourceMetrics);

      assert.deepEqual(ours, fromSdk);
      const first = (fromSdk[0] as { points: { value: { count: number } }[] }[])[0]!;
      assert.equal(first.points.length, 2, 'two series in the first collection');
    });
  }

  test("without a producer every record goes to the histogram it is given (the SDK's or the API's)", () => {
    const recorded: [number, Attributes | undefined][] = [];
    const table = new HistogramTable('h', OPTIONS, () => ({ record: (v, a) => void recorded.push([v, a]) }));
    assert.equal(table.record('k', 1), false, 'every record goes through create');
    table.create('k', ok, 1);
    table.create('k', ok, 2);
    assert.deepEqual(recorded, [[1, ok], [2, ok]]);
  });
});

