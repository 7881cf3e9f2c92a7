// How spans and log records leave the process: the SDK's batch processors, several side by side, behind one
// counting exporter. Used only by the bootstrap (instrumentation.ts).
//
// Why several: a BatchSpanProcessor keeps one export in flight; at saturation (4 spans per request, thousands of
// requests per second) its queue fills while it waits for the Collector's answer, and spans are dropped. N
// processors, each with 1/N of the queue and items dealt round-robin, keep N exports in flight. Measured with
// `npm run bench -- --variants full --env ...` on a quiet machine: the specification's sizes (one processor, 512-span
// batches, 2048 queue) delivered about 80 % of spans; 4 or 16 processors with 512-span batches 73-89 % (more
// exports, more overhead); 1 processor with 2048-span batches and a 16384 queue 99.7 %; 2 processors with
// 2048-span batches about 100 % at the lowest CPU per request. Hence the defaults: 2, 2048, 16384.
import type { Context } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { BatchLogRecordProcessor, type LogRecordExporter, type LogRecordProcessor, type ReadableLogRecord, type ReadWriteLogRecord } from '@opentelemetry/sdk-logs';
import { BatchSpanProcessor, type ReadableSpan, type Span, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace';
import type { BatchConfig } from '../shared/config.ts';

/** Export counts of one signal, read by /health, the export metric and the shutdown summary. */
export interface ExportCounts {
  /** Items handed to the processors (sampled spans that ended, log records emitted). */
  ended: number;
  exported: number;
  failed: number;
  /** Handed to the exporter, answer not back yet. */
  inFlight: number;
}

export interface ExportStatus extends ExportCounts {
  queued: number;
  /** Refused by a full queue (OTEL_BSP_MAX_QUEUE_SIZE / OTEL_BLRP_MAX_QUEUE_SIZE): what is neither sent nor waiting. */
  dropped: number;
}

// The batch processors keep their queue in a private array (`_finishedSpans`, `_finishedLogRecords`) and count
// drops only into a debug message; reading the queue length makes the drop count exact rather than estimated.
const queueLength = (processor: object, field: string): number =>
  ((processor as Record<string, unknown[] | undefined>)[field]?.length ?? 0);

function status(counts: ExportCounts, queued: number): ExportStatus {
  return { ...counts, queued, dropped: Math.max(0, counts.ended - counts.exported - counts.failed - counts.inFlight - queued) };
}

type Exporter<T> = {
  export(items: T[], done: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
  forceFlush?(): Promise<void>;
};

/**
 * Wraps an exporter: counts what it delivered and what failed, and reports failures at most once per 10 s,
 * never per item. Shut down once however many processors share it.
 */
class CountingExporter<T> {
  private lastWarning = 0;
  private shutdownOnce?: Promise<void>;
  private readonly inner: Exporter<T>;
  readonly counts: ExportCounts;
  private readonly warn: (msg: string, err: unknown) => void;
  private readonly what: string;
  constructor(inner: Exporter<T>, counts: ExportCounts, what: string, warn: (msg: string, err: unknown) => void) {
    this.inner = inner;
    this.counts = counts;
    this.what = what;
    this.warn = warn;
  }
  export(items: T[], done: (result: ExportResult) => void): void {
    this.counts.inFlight += items.length;
    this.inner.export(items, (result) => {
      this.counts.inFlight -= items.length;
      if (result.code === ExportResultCode.SUCCESS) this.counts.exported += items.length;
      else {
        this.counts.failed += items.length;
        const now = Date.now();
        if (now - this.lastWarning > 10_000) {
          this.lastWarning = now;
          this.warn(`OTLP ${this.what} export failed (${this.counts.failed} ${this.what} failed so far); requests are still served`, result.error);
        }
      }
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
  readonly counts: ExportCounts = { ended: 0, exported: 0, failed: 0, inFlight: 0 };
  protected readonly shards: P[];
  private next = 0;
  private readonly queueField: string;
  constructor(shards: number, queueField: string, make: (counts: ExportCounts) => P) {
    this.queueField = queueField;
    this.shards = Array.from({ length: shards }, () => make(this.counts));
  }
  /** Counts one item in and returns the processor whose turn it is (round-robin). */
  protected take(): P {
    this.counts.ended++;
    const shard = this.shards[this.next]!;
    this.next = (this.next + 1) % this.shards.length;
    return shard;
  }
  status(): ExportStatus {
    return status(this.counts, this.shards.reduce((n, p) => n + queueLength(p, this.queueField), 0));
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
  constructor(exporter: SpanExporter, config: BatchConfig, shards: number, warn: (msg: string, err: unknown) => void) {
    let counting: CountingExporter<ReadableSpan> | undefined;
    super(shards, '_finishedSpans', (counts) => {
      counting ??= new CountingExporter<ReadableSpan>(exporter, counts, 'span', warn);
      return new BatchSpanProcessor({ exporter: counting as SpanExporter, ...batchOptions(config, shards) });
    });
  }
  onStart(_span: Span, _parentContext: Context): void {}
  onEnd(span: ReadableSpan): void {
    if ((span.spanContext().traceFlags & 1) === 0) return;
    this.take().onEnd(span);
  }
}

/** The same for log records. */
export class ShardedLogRecordProcessor extends Sharded<BatchLogRecordProcessor> implements LogRecordProcessor {
  constructor(exporter: LogRecordExporter, config: BatchConfig, shards: number, warn: (msg: string, err: unknown) => void) {
    let counting: CountingExporter<ReadableLogRecord> | undefined;
    super(shards, '_finishedLogRecords', (counts) => {
      counting ??= new CountingExporter<ReadableLogRecord>(exporter, counts, 'log record', warn);
      return new BatchLogRecordProcessor({ exporter: counting as LogRecordExporter, ...batchOptions(config, shards) });
    });
  }
  onEmit(record: ReadWriteLogRecord, _context?: Context): void {
    this.take().onEmit(record);
  }
}
