// The load engine: sends requests with undici, records latencies in HDR histograms (microseconds) and emits
// `start`, `progress` and `done` events. It knows nothing about printing.
//
// Open model (a rate is given): request i is scheduled at t0 + i/rate whatever the server does, and its latency is
// measured from that scheduled time, so a stalled server shows up in the percentiles instead of silently slowing
// the generator down (coordinated omission). `concurrency` caps requests in flight; a request that is due while the
// cap is reached waits, is sent as soon as a slot frees, and is counted late. Service time (from the actual send) is
// recorded beside it.
// Closed model (no rate): `concurrency` workers send back to back; latency and service time are the same.
// Several targets: request i goes to the next target in turn. A refused connection sent nothing, so the request is
// resent to another target; a request that was sent is never resent (the service may have acted on it).
import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { build, type Histogram } from 'hdr-histogram-js';
import { Client, type Dispatcher } from 'undici';
import { SeriesRecorder, failureMessage, type Series } from './series.ts';
import { TraceparentSource, traceIdOf, type TraceLog } from './trace-audit.ts';

/** What the engine needs to generate load. */
export interface LoadOptions {
  /** Full target URL (origin + endpoint); the first of `targets` when there are several. */
  target: string;
  /**
   * Several full target URLs, taken round robin per request (replicas of one service). Absent or empty: `target`
   * alone. A connection refused on a new connection (nothing sent) is resent to another target.
   */
  targets?: readonly string[];
  method: 'GET' | 'POST';
  body: string | null;
  /** Stop after this many requests (null: run for `durationMs`). */
  requests: number | null;
  durationMs: number | null;
  /** Total target rate in req/s (open model); null: closed model with `concurrency` workers. */
  rate: number | null;
  /** Maximum requests in flight (open model) or number of workers (closed model). */
  concurrency: number;
  /** Per-request deadline from the actual send. */
  timeoutMs: number;
  /** Send a W3C traceparent with a client-generated trace id on every request. */
  propagate: boolean;
}

export type ErrorClass = 'timeout' | 'refused' | 'reset' | 'other';

/** What one target of a multi-target run got and answered. */
export interface TargetStats {
  url: string;
  /** Requests dispatched to it, refused ones included. */
  sent: number;
  successful: number;
  failed: number;
  /** Refused on a new connection here (nothing sent), then resent to another target. */
  retried: number;
  statusCounts: Record<string, number>;
  errorCounts: Record<ErrorClass, number>;
  /** Successful requests completed here, from the scheduled time, in µs. */
  latency: Histogram;
}

/** The targets of a run: `targets` when given, else `target`. */
export function targetsOf(options: LoadOptions): readonly string[] {
  return options.targets !== undefined && options.targets.length > 0 ? options.targets : [options.target];
}

// A target that refuses a connection, or answers `Connection: close` (the service does so while it drains), is
// skipped for this long, doubled on each repeat up to the cap, and tried again after it: a pod being rolled stops
// taking new connections before its listener closes, and a replacement listening on the same address gets traffic back.
export const BACKOFF_MS = 1_000;
export const BACKOFF_MAX_MS = 8_000;

export interface ClientStats {
  wallMs: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  eventLoopDelayMs: { mean: number; p50: number; p99: number; max: number };
}

export interface RunResult {
  options: LoadOptions;
  startedAt: string;
  /** From the first scheduled send to the last completion. */
  durationMs: number;
  /** From the first scheduled send to the last actual send. */
  sendSpanMs: number;
  sent: number;
  completed: number;
  successful: number;
  failed: number;
  /** Open model: sent after their scheduled time because `concurrency` requests were already in flight. */
  late: number;
  /** Duration runs: scheduled before the end but never sent because the cap held them back until then. */
  dropped: number;
  interrupted: boolean;
  /** Successful requests, from the scheduled time, in µs. */
  latency: Histogram;
  /** Successful requests, from the actual send, in µs. */
  serviceTime: Histogram;
  /** Failed requests (error status or transport error), from the scheduled time, in µs. */
  failedLatency: Histogram;
  /** Open model: actual send minus scheduled send, in µs (client timer lag plus waiting for the cap). */
  startLag: Histogram;
  statusCounts: Record<string, number>;
  errorCounts: Record<ErrorClass, number>;
  /** Requests refused on a new connection by one target and resent to another (not failures). */
  retried: number;
  /** One entry per target, in the order given. */
  targets: TargetStats[];
  traces: TraceLog;
  client: ClientStats;
  /** Per-second figures, for the HTML report (not part of the summary); always set by the engine. */
  series?: Series;
}

export interface Progress {
  completed: number;
  sent: number;
  /** Requests planned (null for duration runs). */
  total: number | null;
  elapsedMs: number;
  durationMs: number | null;
  failed: number;
}

export function newHistogram(): Histogram {
  // 1 µs to 60 s at 3 significant digits; grows beyond 60 s if it must.
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
}

/**
 * One keep-alive connection (an undici Client, no pipelining) per request slot. A slot dispatches only to its own
 * connection, so a worker that sends from inside the previous response's end callback reuses the socket that just
 * answered. Through a Pool the next request went to another, idle socket, which undici 8 first validates for a
 * check-phase turn (setImmediate, GHSA-35p6-xmwp-9g52) on top of the turn it waits after every response, and the
 * pool searched its clients and handled a drain event per request: about a third more CPU per request.
 */
export function createConnections(options: LoadOptions): Client[] {
  // With several targets, slot s talks to target t through connection s * targets + t.
  const origins = targetsOf(options).map((t) => new URL(t).origin);
  return Array.from(
    { length: options.concurrency * origins.length },
    (_, i) =>
      new Client(origins[i % origins.length] as string, {
        pipelining: 1,
        keepAliveTimeout: 30_000,
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
        connectTimeout: Math.min(options.timeoutMs, 10_000),
      }),
  );
}

export async function closeConnections(connections: readonly Dispatcher[]): Promise<void> {
  await Promise.all(connections.map((c) => c.close()));
}

function classify(err: Error & { code?: string }): ErrorClass {
  switch (err.code) {
    case 'LOAD_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return 'timeout';
    case 'ECONNREFUSED':
      return 'refused';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return 'reset';
    default:
      return 'other';
  }
}

const TIMEOUT_ERROR = Object.assign(new Error('request timed out'), { code: 'LOAD_TIMEOUT' });
const MAX_BODY = 64 * 1024; // enough for any trace_id; larger bodies are counted but not kept

/** One request in flight; undici calls it back. Allocated per request: a handful of fields. */
class InFlight implements Dispatcher.DispatchHandler {
  run: LoadRun;
  slot: number;
  scheduledAt: number;
  sentAt: number;
  propagatedId: string | null;
  traceparent: string | null = null;
  target = 0;
  /** Targets that refused this request, when it was resent (null until then). */
  refusedBy: number[] | null = null;
  controller: Dispatcher.DispatchController | null = null;
  statusCode = 0;
  headers: IncomingHttpHeaders | null = null;
  body: Buffer | null = null;
  finished = false;

  constructor(run: LoadRun, slot: number, scheduledAt: number, sentAt: number, propagatedId: string | null) {
    this.run = run;
    this.slot = slot;
    this.scheduledAt = scheduledAt;
    this.sentAt = sentAt;
    this.propagatedId = propagatedId;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
  }
  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.statusCode = statusCode;
    this.headers = headers;
  }
  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    // Usually one chunk; later ones are joined only while the body is small enough to hold a trace_id worth finding.
    if (this.body === null) this.body = chunk;
    else if (this.body.length < MAX_BODY) this.body = Buffer.concat([this.body, chunk]);
  }
  onResponseEnd(): void {
    if (this.finished) return;
    this.finished = true;
    this.run.complete(this, null);
  }
  onResponseError(_c: Dispatcher.DispatchController | null, err: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.run.complete(this, err);
  }
}

export interface RunEvents {
  start: [{ startedAt: string; options: LoadOptions }];
  progress: [Progress];
  done: [RunResult];
}

/**
 * One run of the engine. `result` settles when every request sent has completed. The connections are closed at
 * the end unless they were passed in (so a warm-up run can hand its warm connections to the measured run).
 */
export class LoadRun extends EventEmitter<RunEvents> {
  readonly options: LoadOptions;
  readonly result: Promise<RunResult>;
  #resolve!: (r: RunResult) => void;
  #connections: readonly Dispatcher[]; // one per slot and target
  #ownConnections: boolean;
  /** Per target, the same options object for every request (undici only reads it); with --propagate a copy per request. */
  #requests: Dispatcher.DispatchOptions[];
  #rr = 0; // the next target, round robin
  #backoffUntil: number[];
  #backoffMs: number[];
  #traceparents = new TraceparentSource();
  #slots: (InFlight | null)[];
  #free: number[];
  #inflight = 0;
  #t0 = 0;
  #startedAt = '';
  #next = 0; // index of the next request to send
  #planned: number; // requests to schedule (Infinity: until the deadline)
  #blockedDue = 0; // requests with a lower index were due while the cap was reached: they are late
  #closed = false;
  #interrupted = false;
  #lastSend = 0;
  #lastDone = 0;
  #timer: NodeJS.Timeout | null = null;
  #immediate: NodeJS.Immediate | null = null;
  #sweep: NodeJS.Timeout | null = null;
  #progress: NodeJS.Timeout | null = null;
  #deadline: NodeJS.Timeout | null = null;
  #eld = monitorEventLoopDelay({ resolution: 10 });
  #cpu0: NodeJS.CpuUsage = process.cpuUsage();
  #pump = (): void => this.#dispatchDue();

  readonly latency = newHistogram();
  readonly serviceTime = newHistogram();
  readonly failedLatency = newHistogram();
  readonly startLag = newHistogram();
  readonly statusCounts: Record<string, number> = {};
  readonly errorCounts: Record<ErrorClass, number> = { timeout: 0, refused: 0, reset: 0, other: 0 };
  readonly traces: TraceLog = { ids: [], missing: 0, mismatched: 0 };
  readonly targets: TargetStats[];
  retried = 0;
  readonly series = new SeriesRecorder();
  sent = 0;
  completed = 0;
  successful = 0;
  failed = 0;
  late = 0;
  dropped = 0;

  constructor(options: LoadOptions, connections?: readonly Dispatcher[]) {
    super();
    const urls = targetsOf(options);
    if (connections !== undefined && connections.length < options.concurrency * urls.length) {
      throw new RangeError(`${connections.length} connections for a concurrency of ${options.concurrency} and ${urls.length} targets`);
    }
    this.options = options;
    this.#connections = connections ?? createConnections(options);
    this.#ownConnections = connections === undefined;
    const body = options.body === null ? null : Buffer.from(options.body);
    this.#requests = urls.map((target) => {
      const url = new URL(target);
      return {
        path: url.pathname + url.search,
        method: options.method,
        headers: options.body === null ? {} : { 'content-type': 'application/json' },
        body,
      };
    });
    this.targets = urls.map((url) => ({
      url,
      sent: 0,
      successful: 0,
      failed: 0,
      retried: 0,
      statusCounts: {},
      errorCounts: { timeout: 0, refused: 0, reset: 0, other: 0 },
      latency: urls.length > 1 ? newHistogram() : this.latency,
    }));
    this.#backoffUntil = urls.map(() => 0);
    this.#backoffMs = urls.map(() => 0);
    this.#slots = new Array<InFlight | null>(options.concurrency).fill(null);
    this.#free = Array.from({ length: options.concurrency }, (_, i) => options.concurrency - 1 - i);
    // Duration runs: the open model schedules the requests that start before the deadline; the closed model runs
    // until the deadline closes it.
    this.#planned =
      options.requests ??
      (options.rate !== null && options.durationMs !== null
        ? Math.ceil((options.durationMs * options.rate) / 1000)
        : Number.POSITIVE_INFINITY);
    this.result = new Promise((resolve) => (this.#resolve = resolve));
  }

  /** Starts sending on the next tick, so listeners attached right after construction see `start`. */
  start(): this {
    setImmediate(() => this.#begin());
    return this;
  }

  /** Stops scheduling new requests; those in flight complete (bounded by the timeout). */
  stop(): void {
    if (this.#closed) return;
    this.#interrupted = true;
    this.#close();
  }

  #begin(): void {
    this.#eld.enable();
    this.#cpu0 = process.cpuUsage();
    this.#t0 = performance.now();
    this.series.start(this.#t0);
    this.#startedAt = new Date().toISOString();
    this.emit('start', { startedAt: this.#startedAt, options: this.options });
    const { timeoutMs, durationMs } = this.options;
    this.#sweep = setInterval(() => this.#expire(), Math.min(100, Math.max(5, timeoutMs / 20)));
    this.#progress = setInterval(() => this.emit('progress', this.snapshot()), 200);
    if (durationMs !== null) this.#deadline = setTimeout(() => this.#close(), durationMs);
    this.#dispatchDue();
  }

  snapshot(): Progress {
    return {
      completed: this.completed,
      sent: this.sent,
      total: this.options.requests,
      elapsedMs: this.#t0 === 0 ? 0 : performance.now() - this.#t0,
      durationMs: this.options.durationMs,
      failed: this.failed,
    };
  }

  #close(): void {
    if (this.#closed) return;
    const { rate, durationMs } = this.options;
    if (rate !== null && durationMs !== null && !this.#interrupted) {
      // Every request scheduled before the deadline that the cap kept from being sent is dropped.
      const due = Math.min(this.#planned, Math.floor(((performance.now() - this.#t0) * rate) / 1000) + 1);
      this.dropped = Math.max(0, due - this.#next);
    }
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#immediate) clearImmediate(this.#immediate);
    this.#timer = null;
    this.#immediate = null;
    if (this.#inflight === 0) this.#finish();
  }

  /** Sends every request that is due and fits under the cap, then arms a timer for the next scheduled one. */
  #dispatchDue(): void {
    this.#timer = null;
    this.#immediate = null;
    if (this.#closed) return;
    const { rate, concurrency } = this.options;
    const now = performance.now();
    if (rate === null) {
      while (this.#inflight < concurrency && this.#next < this.#planned) this.#send(now, now);
    } else {
      const interval = 1000 / rate;
      const due = Math.min(this.#planned, Math.floor((now - this.#t0) / interval) + 1);
      while (this.#next < due) {
        if (this.#inflight >= concurrency) {
          this.#blockedDue = due;
          break;
        }
        this.#send(this.#t0 + this.#next * interval, now);
      }
      // With a backlog, completions drive sending. Otherwise wake up for the next scheduled request: a timer to
      // within 1 ms of it, then setImmediate turns for the last fraction, because timers fire up to 1 ms late.
      if (this.#next >= due && this.#next < this.#planned) {
        const wait = this.#t0 + this.#next * interval - performance.now();
        if (wait >= 1) this.#timer = setTimeout(this.#pump, Math.floor(wait));
        else this.#immediate = setImmediate(this.#pump);
      }
    }
    if (this.#next >= this.#planned && this.#inflight === 0) this.#close();
  }

  #send(scheduledAt: number, now: number): void {
    const index = this.#next++;
    if (index < this.#blockedDue) this.late++;
    const slot = this.#free.pop() as number;
    let propagatedId: string | null = null;
    let traceparent: string | null = null;
    if (this.options.propagate) [propagatedId, traceparent] = this.#traceparents.next();
    const req = new InFlight(this, slot, scheduledAt, now, propagatedId);
    req.traceparent = traceparent;
    this.#slots[slot] = req;
    this.#inflight++;
    this.sent++;
    this.#lastSend = now;
    this.series.sent(now);
    if (this.options.rate !== null) this.startLag.recordValue(Math.max(1, Math.round((now - scheduledAt) * 1000)));
    this.#dispatch(req, this.#pick(now, null));
  }

  /** The next target round robin, skipping those backing off (all backing off: the next one anyway). */
  #pick(now: number, exclude: number[] | null): number {
    const n = this.#requests.length;
    if (n === 1) return 0;
    let fallback = -1;
    for (let k = 0; k < n; k++) {
      const t = this.#rr;
      this.#rr = (this.#rr + 1) % n;
      if (exclude !== null && exclude.includes(t)) continue;
      if (this.#backoffUntil[t]! <= now) return t;
      if (fallback < 0) fallback = t;
    }
    return fallback;
  }

  #dispatch(req: InFlight, target: number): void {
    req.target = target;
    let request = this.#requests[target] as Dispatcher.DispatchOptions;
    if (req.traceparent !== null) {
      request = { ...request, headers: { ...(request.headers as Record<string, string>), traceparent: req.traceparent } };
    }
    (this.targets[target] as TargetStats).sent++;
    (this.#connections[req.slot * this.#requests.length + target] as Dispatcher).dispatch(request, req);
  }

  /** Starts (or doubles) a target's back-off; the many answers of one episode extend nothing while it runs. */
  #backOff(target: number, now: number): void {
    if (this.#backoffUntil[target]! > now) return;
    const ms = Math.min(BACKOFF_MAX_MS, this.#backoffMs[target]! === 0 ? BACKOFF_MS : this.#backoffMs[target]! * 2);
    this.#backoffMs[target] = ms;
    this.#backoffUntil[target] = now + ms;
  }

  /**
   * A connection refused (nothing was sent) by one of several targets: resend the request to another target that
   * has not refused it and is not backing off. Returns false when there is none.
   */
  #resend(req: InFlight, now: number): boolean {
    const n = this.#requests.length;
    if (n === 1) return false;
    const refused = (req.refusedBy ??= []);
    refused.push(req.target);
    if (refused.length >= n) return false;
    const next = this.#pick(now, refused);
    if (next < 0 || this.#backoffUntil[next]! > now) return false;
    (this.targets[req.target] as TargetStats).retried++;
    this.retried++;
    req.finished = false;
    req.controller = null;
    // Not from inside undici's error loop (see `complete`).
    setImmediate(() => this.#dispatch(req, next));
    return true;
  }

  /** Called by InFlight when its response ended or failed. */
  complete(req: InFlight, err: Error | null): void {
    const now = performance.now();
    // One target: its figures are the run's, filled in at the end instead of recorded twice per request.
    const target = this.#requests.length > 1 ? (this.targets[req.target] as TargetStats) : null;
    if (target !== null) {
      if (err !== null && (err as Error & { code?: string }).code === 'ECONNREFUSED') {
        this.#backOff(req.target, now);
        if (this.#resend(req, now)) return;
      } else if (err === null && req.headers !== null) {
        // A draining service answers `Connection: close`: stop opening connections to it before its listener closes.
        if (String(req.headers.connection ?? '').toLowerCase() === 'close') this.#backOff(req.target, now);
        else this.#backoffMs[req.target] = 0;
      }
    }
    this.#slots[req.slot] = null;
    this.#free.push(req.slot);
    this.#inflight--;
    this.completed++;
    this.#lastDone = now;
    const latencyUs = Math.max(1, Math.round((now - req.scheduledAt) * 1000));
    const ok = err === null && req.statusCode >= 200 && req.statusCode < 300;
    const cls = err === null ? null : classify(err as Error & { code?: string });
    this.series.completed(now, ok, latencyUs, cls ?? req.statusCode, ok ? null : failureMessage(err, req.statusCode, req.body));
    if (cls === null) {
      const key = String(req.statusCode);
      this.statusCounts[key] = (this.statusCounts[key] ?? 0) + 1;
      if (target !== null) target.statusCounts[key] = (target.statusCounts[key] ?? 0) + 1;
      const id = traceIdOf(req.body, req.headers ?? {});
      if (id !== null) {
        this.traces.ids.push(id);
        if (req.propagatedId !== null && id !== req.propagatedId) this.traces.mismatched++;
      } else if (req.propagatedId !== null) this.traces.ids.push(req.propagatedId);
      else this.traces.missing++;
    } else {
      this.errorCounts[cls]++;
      if (target !== null) target.errorCounts[cls]++;
      // A propagated id of a request that reached the service (it may have exported a span) is audited too.
      if (req.propagatedId !== null && cls !== 'refused') this.traces.ids.push(req.propagatedId);
    }
    if (ok) {
      this.successful++;
      this.latency.recordValue(latencyUs);
      if (target !== null) {
        target.successful++;
        target.latency.recordValue(latencyUs);
      }
      this.serviceTime.recordValue(Math.max(1, Math.round((now - req.sentAt) * 1000)));
    } else {
      this.failed++;
      if (target !== null) target.failed++;
      this.failedLatency.recordValue(latencyUs);
    }
    if (this.#closed) {
      if (this.#inflight === 0) this.#finish();
    } else if (this.#timer === null && this.#immediate === null) {
      // After a failure the next send waits a turn: undici fails a connection's queued requests in a loop and then
      // asserts the queue is empty (client.js onError), so a request dispatched from inside that loop breaks it.
      if (err === null) this.#dispatchDue();
      else this.#immediate = setImmediate(this.#pump);
    }
  }

  /** Aborts requests older than the timeout (undici's own timeouts are coarse above 1 s). */
  #expire(): void {
    const limit = performance.now() - this.options.timeoutMs;
    for (const req of this.#slots) {
      if (req !== null && !req.finished && req.sentAt <= limit && req.controller !== null) req.controller.abort(TIMEOUT_ERROR);
    }
  }

  #finish(): void {
    if (this.#sweep) clearInterval(this.#sweep);
    if (this.#progress) clearInterval(this.#progress);
    if (this.#deadline) clearTimeout(this.#deadline);
    this.#eld.disable();
    const cpu = process.cpuUsage(this.#cpu0);
    const end = Math.max(this.#lastDone, this.#lastSend, this.#t0);
    const eld = this.#eld;
    const ms = (ns: number): number => (Number.isFinite(ns) ? ns / 1e6 : 0);
    if (this.targets.length === 1) {
      const only = this.targets[0] as TargetStats;
      Object.assign(only, { successful: this.successful, failed: this.failed, statusCounts: this.statusCounts, errorCounts: this.errorCounts, latency: this.latency });
    }
    const result: RunResult = {
      options: this.options,
      startedAt: this.#startedAt,
      durationMs: end - this.#t0,
      sendSpanMs: this.sent === 0 ? 0 : this.#lastSend - this.#t0,
      sent: this.sent,
      completed: this.completed,
      successful: this.successful,
      failed: this.failed,
      late: this.late,
      dropped: this.dropped,
      interrupted: this.#interrupted,
      latency: this.latency,
      serviceTime: this.serviceTime,
      failedLatency: this.failedLatency,
      startLag: this.startLag,
      statusCounts: this.statusCounts,
      errorCounts: this.errorCounts,
      retried: this.retried,
      targets: this.targets,
      traces: this.traces,
      series: this.series.finish(),
      client: {
        wallMs: performance.now() - this.#t0,
        cpuUserMs: cpu.user / 1000,
        cpuSystemMs: cpu.system / 1000,
        eventLoopDelayMs: {
          mean: ms(eld.mean),
          p50: ms(eld.percentile(50)),
          p99: ms(eld.percentile(99)),
          max: ms(eld.max),
        },
      },
    };
    const done = (): void => {
      this.emit('progress', this.snapshot());
      this.emit('done', result);
      this.#resolve(result);
    };
    if (this.#ownConnections) closeConnections(this.#connections).then(done, done);
    else done();
  }
}

/** Runs one load test to completion. */
export function runLoad(options: LoadOptions, connections?: readonly Dispatcher[]): Promise<RunResult> {
  return new LoadRun(options, connections).start().result;
}
