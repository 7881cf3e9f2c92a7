// One accounting of exports for every signal and both export paths: what was handed over, delivered, failed,
// is in flight, and (from the queue length the path reports) is still queued or was dropped. /health, the metric
// telemetry_export_items_total and the shutdown summary all read it; failures are warned about at most every 10 s.
import { ExportResultCode } from '@opentelemetry/core';

/** Export counts of one signal at one moment. */
export interface ExportStatus {
  /** Items handed to the export path (sampled spans that ended, metric data points collected, log records emitted). */
  readonly ended: number;
  readonly exported: number;
  /** Refused by the Collector, unreachable, or given up on at shutdown. */
  readonly failed: number;
  /** Handed to the exporter, answer not back yet. */
  readonly inFlight: number;
  /** Waiting in a queue to be sent. */
  readonly queued: number;
  /** Refused by a full queue (or not encodable): neither sent nor waiting. */
  readonly dropped: number;
}

export type Warn = (msg: string, err: unknown) => void;

const WARN_EVERY_MS = 10_000;
const SUCCESS = ExportResultCode.SUCCESS;

export class ExportAccount {
  ended = 0;
  exported = 0;
  failed = 0;
  inFlight = 0;
  /** Counted where the path knows it (the eager batcher); otherwise derived in status(). */
  dropped = 0;
  private lastWarning = 0;
  /** `what`: the item's name in warnings ("span", "metric data point", "log record"). */
  readonly what: string;
  private readonly warn: Warn;

  constructor(what: string, warn: Warn) {
    this.what = what;
    this.warn = warn;
  }

  /** Counts `count` items handed to the exporter; call the returned function with the export's outcome. */
  sent(count: number): (result: { code: number; error?: unknown }) => void {
    this.inFlight += count;
    return (result) => {
      this.inFlight -= count;
      if (result.code === SUCCESS) this.exported += count;
      else this.fail(count, result.error);
    };
  }

  /** Counts `count` items as failed and warns, at most once every 10 s, never per item. */
  fail(count: number, error: unknown): void {
    this.failed += count;
    const now = Date.now();
    if (now - this.lastWarning > WARN_EVERY_MS) {
      this.lastWarning = now;
      this.warn(`OTLP ${this.what} export failed (${this.failed} ${this.what}s failed so far); requests are still served`, error);
    }
  }

  /**
   * The counts with `queued` items waiting. Paths that do not count drops themselves (the SDK's batch processors
   * keep them to a debug message) get them as what is neither delivered, failed, in flight nor queued.
   */
  status(queued: number, dropsCounted: boolean): ExportStatus {
    const dropped = dropsCounted ? this.dropped : Math.max(0, this.ended - this.exported - this.failed - this.inFlight - queued);
    return { ended: this.ended, exported: this.exported, failed: this.failed, inFlight: this.inFlight, queued, dropped };
  }
}

export const NO_EXPORT: ExportStatus = Object.freeze({ ended: 0, exported: 0, failed: 0, inFlight: 0, queued: 0, dropped: 0 });
