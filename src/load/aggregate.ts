// Pure aggregation: turns what the engine recorded into the summary that both printers (text, JSON) and the SLO
// check read. Reads the histograms, changes nothing.
import type { Histogram } from 'hdr-histogram-js';
import type { CliOptions } from './args.ts';
import type { ErrorClass, RunResult } from './engine.ts';
import { auditTraces, type Delivery, type TraceAudit } from './trace-audit.ts';
import { checkSlos, type SloResult } from './slo.ts';

export const SUMMARY_SCHEMA = 'load-generator.summary/v1';

export interface LatencyStats {
  count: number;
  min: number;
  max: number;
  mean: number;
  stddev: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
}

export interface Bucket {
  label: string;
  fromMs: number;
  /** null for the last, open-ended bucket. */
  toMs: number | null;
  count: number;
  percent: number;
}

export interface Summary {
  schema: typeof SUMMARY_SCHEMA;
  config: {
    target: string;
    method: string;
    model: 'open' | 'closed';
    targetRate: number | null;
    concurrency: number;
    requests: number | null;
    durationMs: number | null;
    timeoutMs: number;
    warmupMs: number;
    warmupRequests: number;
    propagate: boolean;
    buckets: number[];
  };
  startedAt: string;
  interrupted: boolean;
  durationMs: number;
  requests: {
    /** sent + dropped: every request the run planned to send. */
    total: number;
    sent: number;
    completed: number;
    /** Completed with an HTTP status, any status: the requests the service answered. */
    answered: number;
    successful: number;
    failed: number;
    late: number;
    dropped: number;
    /** Refused on a new connection by one target (nothing sent) and resent to another: not failures. */
    retried: number;
  };
  rate: {
    target: number | null;
    /** Completed requests per second of run duration (what the guide calls "Actual rate"). */
    actual: number;
    /** Open model: requests sent per second of the sending span; equals the target when the schedule was kept. */
    send: number | null;
    shortfall: boolean;
  };
  /** Successful requests only, from the scheduled start (open model) or the send (closed model). */
  latencyMs: LatencyStats;
  /** Successful requests only, from the actual send. */
  serviceTimeMs: LatencyStats;
  /** Failed requests only (error status, timeout, connection error). */
  failedLatencyMs: LatencyStats;
  /** Open model: how late requests were sent against their schedule. */
  startLagMs: { p50: number; p99: number; max: number } | null;
  buckets: Bucket[];
  statusCodes: Record<string, number>;
  errors: { timeout: number; refused: number; reset: number; '4xx': number; '5xx': number; otherStatus: number; other: number };
  traces: TraceAudit & { delivery: Delivery | null };
  client: {
    cpuPercent: number;
    cpuUserMs: number;
    cpuSystemMs: number;
    eventLoopDelayMs: { mean: number; p50: number; p99: number; max: number };
    /** Never true for a run that got no answer: spinning through refused connections says nothing about the client. */
    saturated: boolean;
  };
  /** One entry per target, in the order given (one entry for a single-target run). */
  targets: TargetSummary[];
  warnings: string[];
  slo: SloResult[];
}

export type ErrorCounts = Summary['errors'];

/** What one target of the run got: the requests dispatched to it, and how those that completed there ended. */
export interface TargetSummary {
  url: string;
  /** Dispatched to this target, refused ones included. */
  requests: number;
  answered: number;
  successful: number;
  failed: number;
  /** Refused here on a new connection, then resent to another target. */
  retried: number;
  statusCodes: Record<string, number>;
  errors: ErrorCounts;
  /** Successful requests completed here, as `latencyMs`. */
  latencyMs: LatencyStats;
}

// monitorEventLoopDelay samples with a 10 ms timer and reports its firing time; the excess over 10 ms is the delay.
const ELD_RESOLUTION_MS = 10;
const SATURATED_CPU_PERCENT = 90;
const SATURATED_ELD_P99_MS = 20;
const SHORTFALL_TOLERANCE = 0.03; // warn when the send rate is more than 3 % below the target

const round = (n: number, digits = 3): number => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};

export function latencyStats(h: Histogram): LatencyStats {
  const count = h.totalCount;
  const ms = (us: number): number => (count === 0 ? 0 : round(us / 1000));
  // Percentiles come back as the top of their HDR bucket (within 0.1 %); never report one above the maximum.
  const at = (p: number): number => ms(Math.min(h.getValueAtPercentile(p), h.maxValue));
  return {
    count,
    min: ms(h.minNonZeroValue),
    max: ms(h.maxValue),
    mean: ms(h.mean),
    stddev: ms(h.stdDeviation),
    p50: at(50),
    p90: at(90),
    p95: at(95),
    p99: at(99),
    p999: at(99.9),
  };
}

// The iterator is part of hdr-histogram-js's JS implementation, not of its `Histogram` interface.
interface Iterable {
  recordedValuesIterator: {
    reset(): void;
    hasNext(): boolean;
    next(): { valueIteratedTo: number; countAddedInThisIterationStep: number };
  };
}

/** Counts recorded values per bucket; `edgesMs` are the upper edges, the last bucket is open-ended. */
export function bucketize(h: Histogram, edgesMs: readonly number[]): Bucket[] {
  const counts = new Array<number>(edgesMs.length + 1).fill(0);
  const it = (h as unknown as Iterable).recordedValuesIterator;
  it.reset();
  while (it.hasNext()) {
    const v = it.next();
    const ms = v.valueIteratedTo / 1000;
    let k = edgesMs.findIndex((edge) => ms < edge);
    if (k < 0) k = edgesMs.length;
    counts[k] = (counts[k] ?? 0) + v.countAddedInThisIterationStep;
  }
  const total = h.totalCount;
  return counts.map((count, k) => {
    const fromMs = k === 0 ? 0 : (edgesMs[k - 1] ?? 0);
    const toMs = k < edgesMs.length ? (edgesMs[k] ?? null) : null;
    return {
      label: toMs === null ? `${fromMs}+ms` : `${fromMs}-${toMs}ms`,
      fromMs,
      toMs,
      count,
      percent: total === 0 ? 0 : round((100 * count) / total, 2),
    };
  });
}

/** Transport errors by class plus the non-2xx statuses by range. */
function errorsOf(errorCounts: Record<ErrorClass, number>, statusCounts: Record<string, number>): ErrorCounts {
  const errors = { timeout: 0, refused: 0, reset: 0, '4xx': 0, '5xx': 0, otherStatus: 0, other: 0 };
  Object.assign(errors, errorCounts);
  for (const [code, n] of Object.entries(statusCounts)) {
    const c = Number(code);
    if (c >= 400 && c < 500) errors['4xx'] += n;
    else if (c >= 500) errors['5xx'] += n;
    else if (c < 200 || c >= 300) errors.otherStatus += n;
  }
  return errors;
}

/** Pure: the summary of one run, objectives checked. `delivery` is the receiver's answer when traces were verified. */
export function aggregate(run: RunResult, cli: CliOptions, delivery: Delivery | null = null): Summary {
  const o = run.options;
  const durationS = run.durationMs / 1000;
  const actual = durationS > 0 ? run.completed / durationS : 0;
  let send: number | null = null;
  if (o.rate !== null) {
    // Request i is due at i/rate, so n requests on schedule span (n-1)/rate.
    send = run.sent > 1 && run.sendSpanMs > 0 ? ((run.sent - 1) * 1000) / run.sendSpanMs : run.sent > 0 ? o.rate : 0;
    send = Math.min(send, o.rate * 10);
  }
  const shortfall = o.rate !== null && send !== null && (send < o.rate * (1 - SHORTFALL_TOLERANCE) || run.dropped > 0);

  const errors = errorsOf(run.errorCounts, run.statusCounts);

  const c = run.client;
  const cpuPercent = c.wallMs > 0 ? (100 * (c.cpuUserMs + c.cpuSystemMs)) / c.wallMs : 0;
  const eld = {
    mean: round(Math.max(0, c.eventLoopDelayMs.mean - ELD_RESOLUTION_MS)),
    p50: round(Math.max(0, c.eventLoopDelayMs.p50 - ELD_RESOLUTION_MS)),
    p99: round(Math.max(0, c.eventLoopDelayMs.p99 - ELD_RESOLUTION_MS)),
    max: round(Math.max(0, c.eventLoopDelayMs.max - ELD_RESOLUTION_MS)),
  };
  const answered = Object.values(run.statusCounts).reduce((n, k) => n + k, 0);
  const saturated = answered > 0 && (cpuPercent >= SATURATED_CPU_PERCENT || eld.p99 >= SATURATED_ELD_P99_MS);

  const audit = auditTraces(run.traces);
  const warnings: string[] = [];
  if (run.sent > 0 && answered === 0) {
    warnings.push(`No request was answered (${run.failed} failed before a response): these figures say nothing about the service.`);
  }
  if (shortfall && o.rate !== null && send !== null) {
    const why =
      run.late > 0 || run.dropped > 0
        ? `${run.late} requests started late and ${run.dropped} were dropped because ${o.concurrency} were already in flight (raise --concurrency, or the service cannot keep up)`
        : 'the generator could not keep the schedule';
    warnings.push(`Achieved send rate ${send.toFixed(1)} req/s is below the ${o.rate} req/s target: ${why}.`);
  } else if (run.late > 0) {
    warnings.push(`${run.late} requests started late because ${o.concurrency} were already in flight; their wait is included in the latency.`);
  }
  if (saturated) {
    warnings.push(
      `The load generator itself is saturated (CPU ${cpuPercent.toFixed(0)}% of one core, event-loop delay p99 ${eld.p99.toFixed(1)} ms): latency and rate may reflect the client, not the server.`,
    );
  }
  if (audit.duplicates > 0) warnings.push(`${audit.duplicates} responses repeated a trace id already seen.`);
  if (audit.missing > 0) warnings.push(`${audit.missing} responses carried no trace id.`);
  if (audit.mismatched > 0) warnings.push(`${audit.mismatched} responses carried a different trace id from the propagated traceparent.`);
  if (delivery?.error) warnings.push(`Trace verification failed: ${delivery.error}`);
  else if (delivery && delivery.delivered < delivery.queried) {
    warnings.push(`${delivery.queried - delivery.delivered} of ${delivery.queried} trace ids never reached the receiver.`);
  }
  if (run.interrupted) warnings.push('The run was interrupted: figures cover the requests sent before that.');

  const summary: Omit<Summary, 'slo'> = {
    schema: SUMMARY_SCHEMA,
    config: {
      target: o.target,
      method: o.method,
      model: o.rate === null ? 'closed' : 'open',
      targetRate: o.rate,
      concurrency: o.concurrency,
      requests: o.requests,
      durationMs: o.durationMs,
      timeoutMs: o.timeoutMs,
      warmupMs: cli.warmupMs,
      warmupRequests: cli.warmupRequests,
      propagate: o.propagate,
      buckets: [...cli.buckets],
    },
    startedAt: run.startedAt,
    interrupted: run.interrupted,
    durationMs: round(run.durationMs),
    requests: {
      total: run.sent + run.dropped,
      sent: run.sent,
      completed: run.completed,
      answered,
      successful: run.successful,
      failed: run.failed,
      late: run.late,
      dropped: run.dropped,
      retried: run.retried,
    },
    rate: { target: o.rate, actual: round(actual, 2), send: send === null ? null : round(send, 2), shortfall },
    latencyMs: latencyStats(run.latency),
    serviceTimeMs: latencyStats(run.serviceTime),
    failedLatencyMs: latencyStats(run.failedLatency),
    startLagMs:
      o.rate === null
        ? null
        : (() => {
            const s = latencyStats(run.startLag);
            return { p50: s.p50, p99: s.p99, max: s.max };
          })(),
    buckets: bucketize(run.latency, cli.buckets),
    statusCodes: { ...run.statusCounts },
    errors,
    traces: { ...audit, delivery },
    client: {
      cpuPercent: round(cpuPercent, 1),
      cpuUserMs: round(c.cpuUserMs, 1),
      cpuSystemMs: round(c.cpuSystemMs, 1),
      eventLoopDelayMs: eld,
      saturated,
    },
    targets: run.targets.map((t) => ({
      url: t.url,
      requests: t.sent,
      answered: Object.values(t.statusCounts).reduce((n, k) => n + k, 0),
      successful: t.successful,
      failed: t.failed,
      retried: t.retried,
      statusCodes: { ...t.statusCounts },
      errors: errorsOf(t.errorCounts, t.statusCounts),
      latencyMs: latencyStats(t.latency),
    })),
    warnings,
  };
  return { ...summary, slo: checkSlos(cli.slos, summary) };
}
