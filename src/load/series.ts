// Per-second series of a run, for the HTML report: one small record per second of the run (counts, status codes,
// error classes, latency percentiles of that second), plus the distinct failure messages, a bounded few. The engine
// feeds it in completion order, so one latency histogram, reset at each new second, is all it holds besides.
import { build, type Histogram } from 'hdr-histogram-js';

export interface SecondLatency {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface Second {
  /** Whole seconds since the run's start: this record covers [t, t + 1). */
  t: number;
  sent: number;
  completed: number;
  successful: number;
  failed: number;
  /** Successful requests completed in this second, in ms, as in the summary; null when there were none. */
  latencyMs: SecondLatency | null;
  /** Every HTTP status received in this second, with its count. */
  statusCodes: Record<string, number>;
  /** Transport failures in this second, by the engine's error class (only the classes that occurred). */
  errors: Record<string, number>;
}

export interface ErrorMessage {
  message: string;
  count: number;
  /** The seconds (since the start) of its first and last occurrence. */
  firstS: number;
  lastS: number;
}

export interface Series {
  seconds: Second[];
  /** Distinct failure messages in order of first occurrence, at most MAX_MESSAGES. */
  errorMessages: ErrorMessage[];
  /** Failures whose message was not kept because MAX_MESSAGES distinct ones were already. */
  otherMessages: number;
}

export const MAX_MESSAGES = 20;
const MAX_MESSAGE_CHARS = 300;
const BODY_EXCERPT = 160;

/**
 * What a failed request said: the transport error's message, or `HTTP <status>` with what the body explains
 * (the service's `code` and `detail`, else the body's start). Only called for failures, so the JSON parse is off the
 * hot path.
 */
export function failureMessage(err: Error | null, statusCode: number, body: Buffer | null): string {
  if (err !== null) return clip(err.message || err.name);
  const head = `HTTP ${statusCode}`;
  if (body === null || body.length === 0) return head;
  const text = body.toString('utf8', 0, Math.min(body.length, 4096));
  let why = '';
  try {
    const json = JSON.parse(text) as Record<string, unknown>;
    const detail = json.detail ?? json.message ?? json.error;
    const first = Array.isArray(detail) ? (detail[0] as { msg?: unknown } | undefined)?.msg : detail;
    const parts = [typeof json.code === 'string' ? json.code : '', typeof first === 'string' ? first : ''].filter((p) => p !== '');
    why = parts.join(': ');
  } catch {
    // not JSON: the body's first characters say it
  }
  if (why === '') why = text.slice(0, BODY_EXCERPT).replace(/\s+/g, ' ').trim();
  return clip(why === '' ? head : `${head} ${why}`);
}

function clip(s: string): string {
  return s.length > MAX_MESSAGE_CHARS ? `${s.slice(0, MAX_MESSAGE_CHARS - 1)}…` : s;
}

function emptySecond(t: number): Second {
  return { t, sent: 0, completed: 0, successful: 0, failed: 0, latencyMs: null, statusCodes: {}, errors: {} };
}

/** Collects the series as the engine sends and completes requests; `now` is performance.now() time. */
export class SeriesRecorder {
  #t0 = 0;
  #seconds: Second[] = [];
  #latency: Histogram = build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  /** The second whose successful latencies #latency holds, or -1. */
  #current = -1;
  #messages = new Map<string, ErrorMessage>();
  #otherMessages = 0;

  start(t0: number): void {
    this.#t0 = t0;
  }

  #at(now: number): Second {
    const t = Math.max(0, Math.floor((now - this.#t0) / 1000));
    while (this.#seconds.length <= t) this.#seconds.push(emptySecond(this.#seconds.length));
    return this.#seconds[t] as Second;
  }

  sent(now: number): void {
    this.#at(now).sent++;
  }

  /**
   * One completed request. `status` is the HTTP status, or the class of a transport failure (engine.ts's
   * ErrorClass; a string here so that this file does not import the engine back); `message` (failures only) is what
   * `failureMessage` made of it.
   */
  completed(now: number, ok: boolean, latencyUs: number, status: number | string, message: string | null): void {
    const second = this.#at(now);
    second.completed++;
    if (typeof status === 'number') second.statusCodes[status] = (second.statusCodes[status] ?? 0) + 1;
    else second.errors[status] = (second.errors[status] ?? 0) + 1;
    if (ok) {
      second.successful++;
      if (second.t !== this.#current) {
        this.#flush();
        this.#current = second.t;
      }
      this.#latency.recordValue(latencyUs);
    } else {
      second.failed++;
      if (message !== null) this.#message(message, second.t);
    }
  }

  #message(message: string, t: number): void {
    const seen = this.#messages.get(message);
    if (seen !== undefined) {
      seen.count++;
      seen.lastS = t;
    } else if (this.#messages.size < MAX_MESSAGES) this.#messages.set(message, { message, count: 1, firstS: t, lastS: t });
    else this.#otherMessages++;
  }

  /** Writes the current second's latency percentiles into its record and empties the histogram. */
  #flush(): void {
    const h = this.#latency;
    const second = this.#seconds[this.#current];
    if (second !== undefined && h.totalCount > 0) {
      // As in the summary: a percentile is the top of its HDR bucket, never above the maximum.
      const at = (p: number): number => Math.round(Math.min(h.getValueAtPercentile(p), h.maxValue)) / 1000;
      second.latencyMs = { p50: at(50), p90: at(90), p99: at(99), max: h.maxValue / 1000 };
    }
    h.reset();
    this.#current = -1;
  }

  /** The series so far; call once the run has finished. */
  finish(): Series {
    this.#flush();
    return { seconds: this.#seconds, errorMessages: [...this.#messages.values()], otherMessages: this.#otherMessages };
  }
}
