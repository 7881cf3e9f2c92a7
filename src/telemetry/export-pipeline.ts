// The SDK export path (EXPORT_PIPELINE=sdk, http/json, the console exporter, or an exporter option only the SDK
// implements): the SDK's batch processors, several side by side, behind one counting exporter.
// Why several: a BatchSpanProcessor keeps one export in flight, so at saturation its queue fills while it waits for
// the Collector's answer and spans are dropped; N processors dealt round-robin keep N exports in flight
// (EXPORT_CONCURRENCY; the sizes are measured in docs/PERFORMANCE.md).
import type { Context } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import { BatchLogRecordProcessor, type LogRecordExporter, type LogRecordProcessor, type ReadableLogRecord, type ReadWriteLogRecord } from '@opentelemetry/sdk-logs';
import type { PushMetricExporter, ResourceMetrics, ScopeMetrics } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, type ReadableSpan, type Span, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace';
import type { BatchConfig } from '../shared/config.ts';
import { ExportAccount, type ExportStatus, type Warn } from './accounting.ts';

// The batch processors report drops only as diagnostic messages, with no public count or queue length
// (https://github.com/open-telemetry/opentelemetry-js/pull/3610 chose that over a public API); reading their private
// queue (`_finishedSpans`, `_finishedLogRecords`) makes the drop count exact. Should the field go, drops read as 0
// queued and are derived from what is neither exported, failed nor in flight.
const queueLength = (processor: object, field: string): number =>
  ((processor as Record<string, unknown[] | undefined>)[field]?.length ?? 0);

type Exporter<T> = {
  export(items: T[], done: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
  forceFlush?(): Promise<void>;
};

/** Wraps an exporter: counts what it delivered and what failed. Shut down once however many processors share it. */
class CountingExporter<T> {
  private shutdownOnce?: Promise<void>;
  private readonly inner: Exporter<T>;
  private readonly account: ExportAccount;
  constructor(inner: Exporter<T>, account: ExportAccount) {
    this.inner = inner;
    this.account = account;
  }
  export(items: T[], done: (result: ExportResult) => void): void {
    const settle = this.account.sent(items.length);
    this.inner.export(items, (result) => {
      settle(result);
      done(result);
    });
  }
  shutdown(): Promise<void> {
    this.shutdownOnce ??= this.inner.shutdown();
    return this.shutdownOnce;
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

function batchOptions(config: BatchConfig, shards: number) {
  const maxQueueSize = Math.max(1, Math.ceil(config.maxQueueSize / shards));
  return {
    scheduledDelayMillis: config.scheduleDelayMs,
    exportTimeoutMillis: config.exportTimeoutMs,
    maxQueueSize,
    maxExportBatchSize: Math.min(config.maxExportBatchSize, maxQueueSize),
  };
}

/** N batch processors of one kind behind one counting exporter: what the span and log record versions share. */
abstract class Sharded<P extends { forceFlush(): Promise<void>; shutdown(): Promise<void> }> {
  readonly account: ExportAccount;
  protected readonly shards: P[];
  private next = 0;
  private readonly queueField: string;
  constructor(account: ExportAccount, shards: number, queueField: string, make: () => P) {
    this.account = account;
    this.queueField = queueField;
    this.shards = Array.from({ length: shards }, make);
  }
  /** Counts one item in and returns the processor whose turn it is (round-robin). */
  protected take(): P {
    this.account.ended++;
    const shard = this.shards[this.next]!;
    this.next = (this.next + 1) % this.shards.length;
    return shard;
  }
  status(): ExportStatus {
    return this.account.status(this.shards.reduce((n, p) => n + queueLength(p, this.queueField), 0), false);
  }
  async forceFlush(): Promise<void> {
    await Promise.all(this.shards.map((p) => p.forceFlush()));
  }
  async shutdown(): Promise<void> {
    await Promise.all(this.shards.map((p) => p.shutdown()));
  }
}

/** `shards` batch span processors sharing one counting exporter; sampled spans dealt round-robin. */
export class ShardedSpanProcessor extends Sharded<BatchSpanProcessor> implements SpanProcessor {
  constructor(exporter: SpanExporter, config: BatchConfig, shards: number, warn: Warn) {
    const account = new ExportAccount('span', warn);
    const counting = new CountingExporter<ReadableSpan>(exporter, account);
    super(account, shards, '_finishedSpans', () => new BatchSpanProcessor({ exporter: counting as SpanExporter, ...batchOptions(config, shards) }));
  }
  onStart(_span: Span, _parentContext: Context): void {}
  onEnd(span: ReadableSpan): void {
    if ((span.spanContext().traceFlags & 1) === 0) return;
    this.take().onEnd(span);
  }
}

/** The same for log records. */
export class ShardedLogRecordProcessor extends Sharded<BatchLogRecordProcessor> implements LogRecordProcessor {
  constructor(exporter: LogRecordExporter, config: BatchConfig, shards: number, warn: Warn) {
    const account = new ExportAccount('log record', warn);
    const counting = new CountingExporter<ReadableLogRecord>(exporter, account);
    super(account, shards, '_finishedLogRecords', () => new BatchLogRecordProcessor({ exporter: counting as LogRecordExporter, ...batchOptions(config, shards) }));
  }
  onEmit(record: ReadWriteLogRecord, _context?: Context): void {
    this.take().onEmit(record);
  }
}

/**
 * The metric exporter behind the SDK's periodic reader: counts data points exported and failed (warning like the
 * other signals), and sends one ScopeMetrics per scope. The reader appends what each MetricProducer collected (the
 * histogram tables) after the meters' own metrics, as a second ScopeMetrics for the same scope.
 */
export class CountingMetricExporter implements PushMetricExporter {
  readonly account: ExportAccount;
  private readonly inner: PushMetricExporter;
  constructor(inner: PushMetricExporter, warn: Warn) {
    this.inner = inner;
    this.account = new ExportAccount('metric data point', warn);
    if (inner.selectAggregationTemporality) this.selectAggregationTemporality = inner.selectAggregationTemporality.bind(inner);
    if (inner.selectAggregation) this.selectAggregation = inner.selectAggregation.bind(inner);
  }
  selectAggregationTemporality?: PushMetricExporter['selectAggregationTemporality'];
  selectAggregation?: PushMetricExporter['selectAggregation'];

  export(metrics: ResourceMetrics, done: (result: ExportResult) => void): void {
    const merged = mergeScopes(metrics);
    const points = merged.scopeMetrics.reduce((n, s) => n + s.metrics.reduce((m, metric) => m + metric.dataPoints.length, 0), 0);
    this.account.ended += points;
    const settle = this.account.sent(points);
    this.inner.export(merged, (result) => {
      settle(result);
      done(result);
    });
  }
  status(): ExportStatus {
    return this.account.status(0, false);
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}

/** The same ResourceMetrics with the metrics of equal scopes (name, version, schema URL) under one ScopeMetrics. */
export function mergeScopes(metrics: ResourceMetrics): ResourceMetrics {
  const byScope = new Map<string, ScopeMetrics>();
  for (const s of metrics.scopeMetrics) {
    const key = `${s.scope.name}\0${s.scope.version ?? ''}\0${s.scope.schemaUrl ?? ''}`;
    const seen = byScope.get(key);
    if (seen === undefined) byScope.set(key, { scope: s.scope, metrics: [...s.metrics] });
    else seen.metrics.push(...s.metrics);
  }
  return byScope.size === metrics.scopeMetrics.length ? metrics : { resource: metrics.resource, scopeMetrics: [...byScope.values()] };
}
