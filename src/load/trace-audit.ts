// Trace audit: which trace id each response carried, whether ids repeat or are missing, and (with --verify-traces)
// whether the OTLP receiver got a span for each of them. Extraction and counting are pure; only `verifyTraces`
// does I/O.
import { randomFillSync } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'undici';

const TRACE_ID = /^[0-9a-f]{32}$/;
const ZERO_ID = '0'.repeat(32);
const BODY_KEY = Buffer.from('"trace_id"');
const WINDOW = 80; // the value must start within this many characters of the key (whitespace is all that may sit between)

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

const isJsonSpace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
const isLowerHex = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66);

/** Where the 32 hex digits of `"trace_id": "<id>"` start in `body`, or -1. */
function idStart(body: Buffer): number {
  const at = body.indexOf(BODY_KEY);
  if (at < 0) return -1;
  const end = Math.min(body.length, at + WINDOW);
  let i = at + BODY_KEY.length;
  while (i < end && isJsonSpace(body[i] as number)) i++;
  if (i >= end || body[i++] !== 0x3a) return -1; // ':'
  while (i < end && isJsonSpace(body[i] as number)) i++;
  if (i >= end || body[i++] !== 0x22) return -1; // '"'
  if (i + 33 > end) return -1;
  for (let k = i; k < i + 32; k++) if (!isLowerHex(body[k] as number)) return -1;
  return body[i + 32] === 0x22 ? i : -1;
}

/**
 * The trace id of one response: the body's `trace_id` field first, then the W3C `traceresponse` header
 * (`00-<trace id>-<span id>-<flags>`), then `x-trace-id`. Null when none is a valid id. The body is searched as
 * bytes, without JSON.parse or decoding it, and the id is the only string made: about half the cost of a regular
 * expression on a slice, and less garbage to collect.
 * The engine passes the Buffer; a string is converted first.
 */
export function traceIdOf(body: string | Buffer | null, headers: IncomingHttpHeaders): string | null {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const i = bytes === null ? -1 : idStart(bytes);
  if (i >= 0) {
    const id = (bytes as Buffer).toString('latin1', i, i + 32);
    if (id !== ZERO_ID) return id;
  }
  const tr = header(headers, 'traceresponse');
  if (tr) {
    const id = tr.split('-')[1]?.toLowerCase();
    if (id && TRACE_ID.test(id) && id !== ZERO_ID) return id;
  }
  const x = header(headers, 'x-trace-id')?.trim().toLowerCase();
  if (x && TRACE_ID.test(x) && x !== ZERO_ID) return x;
  return null;
}

/** Makes W3C traceparent values from a pool of random bytes refilled in blocks, to keep per-request cost low. */
export class TraceparentSource {
  #pool = Buffer.alloc(24 * 1024);
  #at = this.#pool.length;

  /** Returns [traceId, traceparent header value]. */
  next(): [string, string] {
    if (this.#at + 24 > this.#pool.length) {
      randomFillSync(this.#pool);
      this.#at = 0;
    }
    // A zero byte 0 only makes the all-zero (invalid) id impossible, at a cost of 1/256 of one byte's entropy.
    if (this.#pool[this.#at] === 0) this.#pool[this.#at] = 1;
    const traceId = this.#pool.toString('hex', this.#at, this.#at + 16);
    const spanId = this.#pool.toString('hex', this.#at + 16, this.#at + 24);
    this.#at += 24;
    return [traceId, `00-${traceId}-${spanId}-01`];
  }
}

/** What the engine recorded about trace ids. */
export interface TraceLog {
  /** One id per request the service answered (or, with --propagate, may have seen), in completion order. */
  ids: string[];
  /** Answered requests whose response carried no usable trace id. */
  missing: number;
  /** With --propagate: responses whose trace id differs from the one sent (the service started a new trace). */
  mismatched: number;
}

export interface TraceAudit {
  recorded: number;
  unique: number;
  /** Occurrences beyond the first of an id seen more than once. */
  duplicates: number;
  duplicateIds: string[];
  missing: number;
  mismatched: number;
}

/** Pure: counts unique and duplicate ids. */
export function auditTraces(log: TraceLog): TraceAudit {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const id of log.ids) {
    if (seen.has(id)) dup.add(id);
    else seen.add(id);
  }
  return {
    recorded: log.ids.length,
    unique: seen.size,
    duplicates: log.ids.length - seen.size,
    duplicateIds: [...dup].slice(0, 5),
    missing: log.missing,
    mismatched: log.mismatched,
  };
}

export function uniqueIds(log: TraceLog): string[] {
  return [...new Set(log.ids)];
}

export interface Delivery {
  url: string;
  queried: number;
  delivered: number;
  /** Every id the receiver did not have (the text report prints a few). */
  missing: string[];
  error: string | null;
}

/**
 * Asks the project's OTLP receiver which trace ids it has: `POST {receiver}/debug/traces/lookup` with
 * `{"trace_ids":[...]}` answers `{"received":[...],"missing":[...]}`. Ids are sent in batches to bound body size.
 */
export async function verifyTraces(receiver: string, ids: readonly string[], batch = 5_000): Promise<Delivery> {
  const url = new URL('/debug/traces/lookup', receiver).toString();
  const received = new Set<string>();
  try {
    for (let i = 0; i < ids.length; i += batch) {
      const chunk = ids.slice(i, i + batch);
      const res = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ trace_ids: chunk }),
        headersTimeout: 30_000,
        bodyTimeout: 30_000,
      });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`${url} answered ${res.statusCode}: ${text.slice(0, 200)}`);
      const answer = JSON.parse(text) as { received?: unknown };
      if (!Array.isArray(answer.received)) throw new Error(`${url} answered without a "received" array`);
      for (const id of answer.received) if (typeof id === 'string') received.add(id.toLowerCase());
    }
  } catch (err) {
    return { url, queried: ids.length, delivered: 0, missing: [], error: (err as Error).message };
  }
  const missing = ids.filter((id) => !received.has(id));
  return { url, queried: ids.length, delivered: ids.length - missing.length, missing, error: null };
}
