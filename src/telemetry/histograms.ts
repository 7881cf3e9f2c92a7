// The service's two histograms (http.server.request.duration, prediction_latency_ms), aggregated here per series
// key and handed to the SDK's metric reader as a MetricProducer, the SDK's own hook for metrics it does not
// aggregate itself. Why: the SDK's Histogram.record hashes the attribute object on every call (sorted keys, then
// JSON.stringify) to find the series; here a request costs one Map lookup by a string key the caller already has.
// The exported points are the SDK's: same descriptor, buckets, start times and temporality;
// test/telemetry/histograms.test.ts compares them with the SDK's own for the same records. The export plan
// (plan.ts) decides whether the tables or the SDK's Histogram record.
import { diag, ValueType, type Attributes, type Histogram, type HrTime, type MetricOptions } from '@opentelemetry/api';
import { hrTime } from '@opentelemetry/core';
import {
  AggregationTemporality,
  DataPointType,
  type CollectionResult,
  type HistogramMetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';

interface Series {
  readonly attributes: Attributes;
  startTime: HrTime;
  counts: number[];
  sum: number;
  count: number;
  min: number;
  max: number;
}

/** A histogram's options as the API's createHistogram takes them, with the explicit bucket boundaries it advises. */
export interface HistogramOptions extends MetricOptions {
  advice: { explicitBucketBoundaries: number[] };
}

/** One histogram: its series by key when a producer collects it, the SDK's (or the API's) Histogram otherwise. */
export class HistogramTable {
  readonly name: string;
  private readonly options: HistogramOptions;
  private readonly boundaries: number[];
  private readonly series = new Map<string, Series>();
  private readonly sdk: Histogram | undefined;
  /** Delta temporality: the series of the last collection. */
  private reported = new Set<string>();

  /** `target`: the producer that collects this table, or a maker of the SDK's (or the API's) Histogram to record into. */
  constructor(name: string, options: HistogramOptions, target: HistogramProducer | (() => Histogram)) {
    this.name = name;
    this.options = options;
    this.boundaries = options.advice.explicitBucketBoundaries;
    if (typeof target === 'function') this.sdk = target();
    else target.register(this);
  }

  /**
   * Records `value` in the series `key` stands for (the same key must always stand for the same attributes).
   * False when the series does not exist yet, or when the SDK's Histogram records: then call `create`.
   */
  record(key: string, value: number): boolean {
    if (this.sdk !== undefined) return false;
    const s = this.series.get(key);
    if (s === undefined) return false;
    this.add(s, value);
    return true;
  }

  /** The first record of series `key`, with its attributes (or any record, when the SDK's Histogram records). */
  create(key: string, attributes: Attributes, value: number): void {
    if (this.sdk !== undefined) return this.sdk.record(value, attributes);
    if (value < 0) return this.refuse(value);
    const s: Series = { attributes, startTime: hrTime(), counts: new Array<number>(this.boundaries.length + 1).fill(0), sum: 0, count: 0, min: Infinity, max: -Infinity };
    this.series.set(key, s);
    this.add(s, value);
  }

  private add(s: Series, value: number): void {
    if (value < 0) return this.refuse(value);
    if (Number.isNaN(value)) return;
    s.count++;
    s.sum += value;
    if (value < s.min) s.min = value;
    if (value > s.max) s.max = value;
    // The SDK's bucket: the first boundary >= value (upper bounds inclusive); past the last, the overflow bucket.
    const b = this.boundaries;
    let lo = 0;
    let hi = b.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (b[mid]! < value) lo = mid + 1;
      else hi = mid;
    }
    s.counts[lo]!++;
  }

  /** As the SDK's Histogram: a negative value is refused with a warning (before its series exists); NaN is ignored. */
  private refuse(value: number): void {
    diag.warn(`negative value provided to histogram ${this.name}: ${value}`);
  }

  /**
   * The metric as the SDK's reader would collect it. Delta temporality reports the series recorded since the last
   * collection and forgets them; like the SDK's, a series reported last time starts at that collection, a new one
   * at its first record.
   */
  collect(temporality: AggregationTemporality, endTime: HrTime, lastCollection: HrTime | undefined): HistogramMetricData | undefined {
    const delta = temporality === AggregationTemporality.DELTA;
    const points: HistogramMetricData['dataPoints'] = [];
    const reported = new Set<string>();
    for (const [key, s] of this.series) {
      if (delta) {
        this.series.delete(key);
        reported.add(key);
      }
      points.push({
        attributes: s.attributes,
        startTime: delta && lastCollection !== undefined && this.reported.has(key) ? lastCollection : s.startTime,
        endTime,
        value: {
          buckets: { boundaries: this.boundaries, counts: delta ? s.counts : [...s.counts] },
          sum: s.sum,
          count: s.count,
          min: s.count > 0 ? s.min : undefined,
          max: s.count > 0 ? s.max : undefined,
        },
      });
    }
    if (delta) this.reported = reported;
    if (points.length === 0) return undefined;
    return {
      descriptor: {
        name: this.name,
        description: this.options.description ?? '',
        unit: this.options.unit ?? '',
        valueType: this.options.valueType ?? ValueType.DOUBLE,
      },
      aggregationTemporality: temporality,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints: points,
    };
  }
}

/** The tables' metrics, under the meter's scope, at each collection of the reader it is given to. */
export class HistogramProducer implements MetricProducer {
  private readonly scope: { name: string; version: string };
  private readonly temporality: AggregationTemporality;
  private readonly resource: CollectionResult['resourceMetrics']['resource'];
  private readonly tables: HistogramTable[] = [];
  private lastCollection: HrTime | undefined;

  constructor(scope: { name: string; version: string }, temporality: AggregationTemporality, resource: CollectionResult['resourceMetrics']['resource']) {
    this.scope = scope;
    this.temporality = temporality;
    this.resource = resource;
  }

  register(table: HistogramTable): void {
    this.tables.push(table);
  }

  async collect(): Promise<CollectionResult> {
    const endTime = hrTime();
    const metrics = this.tables.map((t) => t.collect(this.temporality, endTime, this.lastCollection)).filter((m) => m !== undefined);
    this.lastCollection = endTime;
    return { resourceMetrics: { resource: this.resource, scopeMetrics: metrics.length > 0 ? [{ scope: this.scope, metrics }] : [] }, errors: [] };
  }
}
