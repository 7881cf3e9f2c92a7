// What every reliability scenario needs: the service's RSS read from /proc while it runs, its /health counters,
// the final telemetry counters it logs on shutdown, latency figures from the load generator's histograms, and a
// stand-in Collector that can be made slow or refusing. Loopback only.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { latencyStats, type LatencyStats } from '../../src/load/aggregate.ts';
import type { RunResult } from '../../src/load/engine.ts';
import type { LoadOptions } from '../../src/load/args.ts';
import { decodeProtobuf, encodeResponse, spansOf } from '../../src/receiver/otlp-model.ts';
import type { RunningService } from '../../test/helpers/service.ts';

/**
 * Span export counters. Older builds report `spans_queued_or_dropped`; newer ones `spans_queued` and
 * `spans_dropped` separately: both are read, and `spans_queued_or_dropped` is their sum either way.
 */
export interface TelemetryCounters {
  spans_ended: number;
  spans_exported: number;
  spans_export_failed: number;
  spans_queued_or_dropped: number;
  spans_dropped?: number;
}

function counters(raw: Record<string, number> | undefined): TelemetryCounters | null {
  if (raw === undefined) return null;
  const queuedOrDropped = raw.spans_queued_or_dropped ?? (raw.spans_queued ?? 0) + (raw.spans_dropped ?? 0);
  return {
    spans_ended: raw.spans_ended!,
    spans_exported: raw.spans_exported!,
    spans_export_failed: raw.spans_export_failed!,
    spans_queued_or_dropped: queuedOrDropped,
    ...(raw.spans_dropped === undefined ? {} : { spans_dropped: raw.spans_dropped }),
  };
}

/** Resident set size of a process in MiB (Linux /proc), or NaN once it has gone. */
export function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Samples a process's RSS every `everyMs` until stopped; no HTTP, so the service's own counters stay clean. */
export class RssSampler {
  readonly samples: { atMs: number; mib: number }[] = [];
  readonly #pid: number;
  readonly #t0 = Date.now();
  #timer: NodeJS.Timeout;
  constructor(pid: number, everyMs = 250) {
    this.#pid = pid;
    this.#take();
    this.#timer = setInterval(() => this.#take(), everyMs);
  }
  #take(): void {
    const mib = rssMiB(this.#pid);
    if (Number.isFinite(mib)) this.samples.push({ atMs: Date.now() - this.#t0, mib });
  }
  stop(): this {
    clearInterval(this.#timer);
    return this;
  }
  /** Highest sample at or after `fromMs`. */
  peak(fromMs = 0): number {
    return Math.max(...this.samples.filter((s) => s.atMs >= fromMs).map((s) => s.mib));
  }
  /** Mean of the samples in [fromMs, toMs). */
  mean(fromMs: number, toMs = Number.POSITIVE_INFINITY): number {
    const xs = this.samples.filter((s) => s.atMs >= fromMs && s.atMs < toMs).map((s) => s.mib);
    return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  }
}

export async function health(url: string): Promise<{ telemetry: TelemetryCounters; model_queue: { in_flight: number; queued: number; rejected: number } }> {
  const res = await fetch(`${url}/health`);
  const body = (await res.json()) as { telemetry: Record<string, number>; model_queue: { in_flight: number; queued: number; rejected: number } };
  return { ...body, telemetry: counters(body.telemetry)! };
}

/** The counters the service logs in its last line ("Shutdown complete"): exact, the queue is empty by then. */
export function finalTelemetry(svc: RunningService): TelemetryCounters | null {
  const line = svc.logLines().find((l) => typeof l.msg === 'string' && l.msg.startsWith('Shutdown complete'));
  return counters(line?.telemetry as Record<string, number> | undefined);
}

export function loadOptions(url: string, o: Partial<LoadOptions> & Pick<LoadOptions, 'rate' | 'concurrency'>): LoadOptions {
  return {
    target: `${url}/predict`,
    method: 'POST',
    body: '{"features":[0.5,1.5,2.0]}',
    requests: null,
    durationMs: null,
    timeoutMs: 10_000,
    propagate: false,
    ...o,
  };
}

export interface RunFigures {
  sent: number;
  completed: number;
  ok: number;
  failed: number;
  statuses: Record<string, number>;
  errors: RunResult['errorCounts'];
  /** From the scheduled send (open model), successful requests. */
  latency: LatencyStats;
  /** From the actual send, successful requests. */
  service: LatencyStats;
  failedLatency: LatencyStats;
  ids: string[];
}

export function figures(run: RunResult): RunFigures {
  return {
    sent: run.sent,
    completed: run.completed,
    ok: run.successful,
    failed: run.failed,
    statuses: { ...run.statusCounts },
    errors: { ...run.errorCounts },
    latency: latencyStats(run.latency),
    service: latencyStats(run.serviceTime),
    failedLatency: latencyStats(run.failedLatency),
    ids: [...new Set(run.traces.ids)],
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export type CollectorMode = 'ok' | 'slow' | 'refuse';

/**
 * A stand-in OTLP/HTTP Collector: `ok` answers at once, `slow` after `slowMs`, `refuse` with 503 (what a Collector
 * under memory_limiter pressure answers). Counts the spans it acknowledged, per mode.
 */
export class FaultyCollector {
  mode: CollectorMode = 'ok';
  slowMs: number;
  readonly acknowledgedSpans: Record<CollectorMode, number> = { ok: 0, slow: 0, refuse: 0 };
  readonly requests: Record<CollectorMode, number> = { ok: 0, slow: 0, refuse: 0 };
  #server: Server;
  #timers = new Set<NodeJS.Timeout>();
  url = '';

  constructor(slowMs = 2_000) {
    this.slowMs = slowMs;
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const mode = this.mode;
        this.requests[mode]++;
        if (mode === 'refuse') {
          res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
          res.end('{"code":14,"message":"data refused due to high memory usage"}');
          return;
        }
        const answer = (): void => {
          let spans = 0;
          if (req.url === '/v1/traces') {
            try {
              spans = spansOf(decodeProtobuf('traces', Buffer.concat(chunks)) as Record<string, unknown>).length;
            } catch {
              spans = 0;
            }
          }
          this.acknowledgedSpans[mode] += spans;
          const signal = req.url === '/v1/metrics' ? 'metrics' : req.url === '/v1/logs' ? 'logs' : 'traces';
          res.writeHead(200, { 'content-type': 'application/x-protobuf' });
          res.end(Buffer.from(encodeResponse(signal)));
        };
        if (mode === 'slow') {
          const t = setTimeout(() => {
            this.#timers.delete(t);
            answer();
          }, this.slowMs);
          this.#timers.add(t);
        } else answer();
      });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    this.#server.closeAllConnections();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }
}

/** `--name value` flags of the long-version scripts, as numbers. */
export function numberFlags(argv: string[], defaults: Record<string, number>): Record<string, number> {
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)$/.exec(argv[i]!);
    if (m === null) continue;
    const key = m[1]!;
    const value = Number(argv[i + 1]);
    if (!(key in defaults) || !Number.isFinite(value)) throw new Error(`unknown flag or bad value: ${argv[i]} ${argv[i + 1] ?? ''}; flags: ${Object.keys(defaults).map((k) => `--${k}`).join(' ')}`);
    out[key] = value;
    i++;
  }
  return out;
}
