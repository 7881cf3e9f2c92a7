// The eager export pipeline (EXPORT_PIPELINE=eager, the default for OTLP over gRPC and HTTP/protobuf): each
// sampled span and each log record is encoded to OTLP protobuf the moment it ends (otlp-encode.ts) and the span
// object is let go at once; batches are sent as ready-made bytes over gRPC or HTTP, retried on the answers the
// OTLP specification calls retryable, and counted exactly (exported, failed, dropped, queued, in flight).
//
// Why not the SDK's BatchSpanProcessor + OTLP exporter (still used for http/json, the console exporter,
// EXPORT_PIPELINE=sdk, and when TLS, header or compression variables ask for the SDK exporter's options):
// it keeps every span object until its batch is exported, so at a few thousand requests per second the spans
// survive young-generation collections and are promoted, and the whole batch is serialized in one go on the
// event loop (docs/PERFORMANCE.md, "Fast paths").
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, credentials, Metadata, status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import { context, ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import type { LogRecordProcessor, ReadableLogRecord, ReadWriteLogRecord } from '@opentelemetry/sdk-logs';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import { ProtobufLogsSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { request } from 'undici';
import type { BatchConfig } from '../shared/config.ts';
import { ExportAccount, type ExportStatus, type Warn } from './accounting.ts';
import { assembleRequest, encodeResource, encodeScope, ProtoWriter, writeLogRecord, writeSpan, type EncodedGroup } from './otlp-encode.ts';

export type Signal = 'traces' | 'logs';

// What the SDK's OTLP exporters send (their packages share otlp-transformer's version), so a Collector sees one client.
const USER_AGENT = `OTel-OTLP-Exporter-JavaScript/${exporterVersion()}`;

function exporterVersion(): string {
  const entry = fileURLToPath(import.meta.resolve('@opentelemetry/otlp-transformer'));
  const manifest = join(entry.slice(0, entry.lastIndexOf('/dist/')), 'package.json');
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

/** What one send attempt came back with. */
export type SendResult = { ok: true; rejected: number; message?: string } | { ok: false; retryable: boolean; retryAfterMs?: number; error: string };

export interface Transport {
  /** One attempt; `abort` ends it early (shutdown past its deadline), answering as a failure. */
  send(body: Buffer, timeoutMs: number, abort?: AbortSignal): Promise<SendResult>;
  close(): void;
}

const GRPC_PATH: Record<Signal, string> = {
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
};
// The codes the OTLP exporter specification retries; RESOURCE_EXHAUSTED only when the server says when to retry
// (RetryInfo, carried in grpc-status-details-bin): otherwise it may be a batch too large to ever be accepted.
const GRPC_RETRYABLE = new Set<number>([
  grpcStatus.CANCELLED,
  grpcStatus.DEADLINE_EXCEEDED,
  grpcStatus.ABORTED,
  grpcStatus.OUT_OF_RANGE,
  grpcStatus.UNAVAILABLE,
  grpcStatus.DATA_LOSS,
]);
const HTTP_RETRYABLE = new Set([429, 502, 503, 504]);

/** The partial-success answer of a successful export; an answer that does not decode counts as full success. */
function rejectedCount(signal: Signal, body: Uint8Array): { rejected: number; message?: string } {
  if (body.length === 0) return { rejected: 0 };
  try {
    let n: number;
    let message: string | undefined;
    if (signal === 'traces') {
      const p = ProtobufTraceSerializer.deserializeResponse(body).partialSuccess;
      [n, message] = [Number(p?.rejectedSpans ?? 0), p?.errorMessage];
    } else {
      const p = ProtobufLogsSerializer.deserializeResponse(body).partialSuccess;
      [n, message] = [Number(p?.rejectedLogRecords ?? 0), p?.errorMessage];
    }
    // The batcher caps it at the batch size; a negative or absurd value (int64 wrap-around) counts as none.
    return { rejected: Number.isFinite(n) && n > 0 ? Math.trunc(n) : 0, message };
  } catch {
    return { rejected: 0 };
  }
}

/** OTLP/gRPC: the Export method called with bytes we already encoded (grpc-js with pass-through codecs). */
export function grpcTransport(signal: Signal, url: string): Transport {
  const u = new URL(url);
  // Reconnection backoff capped at 5 s (grpc-js defaults grow to 120 s), so that export resumes within seconds
  // of a Collector restart rather than minutes.
  const client = new Client(u.host, u.protocol === 'https:' ? credentials.createSsl() : credentials.createInsecure(), {
    'grpc.primary_user_agent': USER_AGENT,
    'grpc.initial_reconnect_backoff_ms': 500,
    'grpc.max_reconnect_backoff_ms': 5000,
  });
  const same = (b: Buffer) => b;
  return {
    send: (body, timeoutMs, abort) =>
      new Promise((resolve) => {
        const call = client.makeUnaryRequest(GRPC_PATH[signal], same, same, body, new Metadata(), { deadline: Date.now() + timeoutMs }, (err: ServiceError | null, answer?: Buffer) => {
          abort?.removeEventListener('abort', cancel);
          if (!err) return resolve({ ok: true, ...rejectedCount(signal, answer ?? Buffer.alloc(0)) });
          const retryable = GRPC_RETRYABLE.has(err.code) || (err.code === grpcStatus.RESOURCE_EXHAUSTED && err.metadata?.get('grpc-status-details-bin').length > 0);
          resolve({ ok: false, retryable, error: `gRPC ${grpcStatus[err.code] ?? err.code}: ${err.details}` });
        });
        const cancel = () => call.cancel();
        abort?.addEventListener('abort', cancel, { once: true });
      }),
    close: () => client.close(),
  };
}

/** OTLP/HTTP with protobuf bodies (POST to the signal's /v1/traces or /v1/logs URL). */
export function httpTransport(signal: Signal, url: string): Transport {
  return {
    send: async (body, timeoutMs, abort) => {
      try {
        const signals = abort ? [AbortSignal.timeout(timeoutMs), abort] : [AbortSignal.timeout(timeoutMs)];
        const res = await request(url, { method: 'POST', body, headers: { 'content-type': 'application/x-protobuf', 'user-agent': USER_AGENT }, signal: AbortSignal.any(signals) });
        const answer = new Uint8Array(await res.body.arrayBuffer());
        if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true, ...rejectedCount(signal, answer) };
        const after = Number(res.headers['retry-after']);
        return { ok: false, retryable: HTTP_RETRYABLE.has(res.statusCode), retryAfterMs: after > 0 ? after * 1000 : undefined, error: `HTTP ${res.statusCode}` };
      } catch (err) {
        return { ok: false, retryable: true, error: err instanceof Error ? err.message : String(err) };
      }
    },
    close: () => {},
  };
}

export interface EagerOptions {
  batch: BatchConfig;
  /** Exports in flight at once. */
  concurrency: number;
  /** Per attempt. */
  timeoutMs: number;
  /** A batch that keeps failing with retryable answers is retried for this long, then counted as failed. */
  retryMs: number;
  /** Longest shutdown flush: sends still running then are cancelled and what is left is counted as failed. */
  shutdownMs: number;
  warn: Warn;
}

interface Item {
  resource: { attributes: Record<string, unknown>; schemaUrl?: string };
  instrumentationScope: { name: string; version?: string; schemaUrl?: string; attributes?: Record<string, unknown> };
}

interface Group {
  resource: Item['resource'];
  scope: Item['instrumentationScope'];
  writer: ProtoWriter;
  count: number;
}

interface Batch {
  /** Order of cutting: forceFlush waits for the batches cut up to its call, not for later ones. */
  seq: number;
  /** The request, a view of `writer`'s buffer. */
  body: Buffer;
  writer: ProtoWriter;
  count: number;
  firstTry: number;
  attempt: number;
}

const sameScope = (a: Item['instrumentationScope'], b: Item['instrumentationScope']): boolean =>
  a.name === b.name && a.version === b.version && a.schemaUrl === b.schemaUrl && a.attributes === b.attributes;

const BACKOFF_START_MS = 1000; // the SDK's exporter retry: 1 s, x1.5, at most 5 s, with jitter
const BACKOFF_MAX_MS = 5000;

/**
 * Items encoded as they arrive into one writer per (resource, scope); a batch is cut when it holds
 * maxExportBatchSize items or scheduleDelayMs after its first item; at most `concurrency` batches in flight.
 * The queue (open batch + batches waiting) holds at most maxQueueSize items; beyond that items are dropped and
 * counted.
 */
export class EagerBatcher<T extends Item> {
  readonly counts: ExportAccount;
  private readonly groups = new Map<object, Map<object, Group>>();
  private readonly encoded = new WeakMap<object, Buffer>();
  private open = 0;
  private waiting: Batch[] = [];
  private waitingItems = 0;
  private sending = 0;
  private timer: NodeJS.Timeout | undefined;
  protected stopping = false;
  private flushes: { through: number; done: () => void }[] = [];
  private cutSeq = 0;
  /** Sequence numbers of batches cut and not finished (waiting or being sent). */
  private readonly outstanding = new Set<number>();
  /** Aborted at the shutdown deadline: cancels the sends still running. */
  private readonly abort = new AbortController();
  private deadline = Infinity;
  /** Set when an attempt fails during shutdown: the batches still waiting are not sent, they are counted. */
  private giveUp = false;
  private readonly spareWriters: ProtoWriter[] = [];
  private lastGroup: Group | undefined;
  /** Batches waiting out a retry backoff: shutdown wakes them for their last attempt. */
  private readonly sleeping = new Set<() => void>();
  private readonly transport: Transport;
  private readonly encode: (w: ProtoWriter, item: T) => void;
  private readonly o: EagerOptions;
  private readonly what: string;

  constructor(transport: Transport, encode: (w: ProtoWriter, item: T) => void, what: string, options: EagerOptions) {
    this.transport = transport;
    this.encode = encode;
    this.what = what;
    this.o = options;
    this.counts = new ExportAccount(what, options.warn);
  }

  add(item: T): void {
    this.counts.ended++;
    if (this.stopping || this.open + this.waitingItems >= this.o.batch.maxQueueSize) {
      this.counts.dropped++;
      return;
    }
    const group = this.group(item);
    const at = group.writer.pos;
    try {
      this.encode(group.writer, item);
    } catch (err) {
      // A value the encoder cannot write: the item is dropped (counted), never half-written into the batch.
      group.writer.pos = at;
      this.counts.dropped++;
      this.o.warn(`A ${this.what} could not be encoded and was dropped`, err);
      return;
    }
    group.count++;
    // add() runs in a request's context (a span ends, a line is logged); the timer and the export call would
    // capture it and keep that request's spans alive for as long as they last (see the onSend hook in
    // http-telemetry.ts), so both are made outside it.
    if (++this.open >= this.o.batch.maxExportBatchSize) context.with(ROOT_CONTEXT, this.cutNow);
    else if (this.timer === undefined) context.with(ROOT_CONTEXT, this.arm);
  }

  private readonly cutNow = (): void => this.cut();
  private readonly arm = (): void => {
    this.timer = setTimeout(this.cutNow, this.o.batch.scheduleDelayMs); // cut() never throws
    this.timer.unref();
  };

  status(): ExportStatus {
    return this.counts.status(this.open + this.waitingItems, true);
  }

  /** Sends what is queued now and resolves when those batches are delivered or counted (not later ones). */
  forceFlush(): Promise<void> {
    this.cut();
    const through = this.cutSeq;
    return new Promise((done) => {
      this.flushes.push({ through, done });
      this.settleFlushes();
    });
  }

  /**
   * Flushes within `shutdownMs`: no more back-off (each batch gets its last attempt now); once an attempt fails,
   * the batches still waiting are counted as failed without being sent; at the deadline the sends still running
   * are cancelled. Then closes the channel. No new item is taken (counted as dropped).
   */
  async shutdown(): Promise<void> {
    this.stopping = true;
    this.deadline = Date.now() + this.o.shutdownMs;
    const timer = setTimeout(() => this.abort.abort(), this.o.shutdownMs);
    timer.unref();
    for (const wake of this.sleeping) wake();
    await this.forceFlush();
    clearTimeout(timer);
    this.transport.close();
  }

  private settleFlushes(): void {
    if (this.flushes.length === 0) return;
    let oldest = Infinity;
    for (const seq of this.outstanding) oldest = Math.min(oldest, seq);
    this.flushes = this.flushes.filter((f) => {
      if (f.through < oldest) f.done();
      return f.through >= oldest;
    });
  }

  private group(item: T): Group {
    // Almost every item has the resource and scope of the one before (one tracer, one logger): skip the lookups.
    const last = this.lastGroup;
    if (last !== undefined && last.resource === item.resource && last.scope === item.instrumentationScope) return last;
    let byScope = this.groups.get(item.resource);
    if (byScope === undefined) this.groups.set(item.resource, (byScope = new Map()));
    let g = byScope.get(item.instrumentationScope);
    if (g === undefined) {
      // A scope object equal to one already seen shares its group, so that a batch holds one ScopeSpans per scope
      // (the SDK tracer's scope and the direct spans' sink scope are two objects for one scope, should a span of
      // each end up in one batch: test/telemetry/direct-spans.test.ts mixes them).
      const scope = item.instrumentationScope;
      for (const other of byScope.values()) if (sameScope(other.scope, scope)) g = other;
      g ??= { resource: item.resource, scope, writer: new ProtoWriter(), count: 0 };
      byScope.set(scope, g);
    }
    this.lastGroup = g;
    return g;
  }

  /** The groups of each resource, each group once (equal scope objects share one group). */
  private distinctGroups(): Group[][] {
    return [...this.groups.values()].map((byScope) => [...new Set(byScope.values())]);
  }

  private bytesOf(key: object, make: () => Buffer): Buffer {
    let b = this.encoded.get(key);
    if (b === undefined) this.encoded.set(key, (b = make()));
    return b;
  }

  /** Turns the open items into one request body and queues it. */
  private cut(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.open > 0) {
      try {
        this.queueOpenItems();
      } catch (err) {
        // Not expected (the items are already encoded); if assembling fails, the open items are counted, not lost.
        this.counts.failed += this.open;
        this.o.warn(`OTLP ${this.what} batch could not be assembled; ${this.open} ${this.what}s counted as failed`, err);
        for (const g of this.distinctGroups().flat()) ((g.writer.pos = 0), (g.count = 0));
        this.open = 0;
      }
    }
    this.pump();
  }

  private queueOpenItems(): void {
    const groups: EncodedGroup[] = [];
    for (const byScope of this.distinctGroups()) {
      let g: EncodedGroup | undefined;
      for (const s of byScope) {
        if (s.count === 0) continue;
        g ??= { resource: this.bytesOf(s.resource, () => encodeResource(s.resource.attributes)), resourceSchemaUrl: s.resource.schemaUrl, scopes: [] };
        g.scopes.push({ scope: this.bytesOf(s.scope, () => encodeScope(s.scope)), schemaUrl: s.scope.schemaUrl, items: s.writer.bytes() });
      }
      if (g) groups.push(g);
    }
    // Request buffers are reused (a few kept, one per export in flight): a fresh half-megabyte buffer per batch is
    // external memory to V8, and its growth alone triggered a mark-compact every second or so at saturation.
    const writer = this.spareWriters.pop() ?? new ProtoWriter(64 * 1024);
    const body = assembleRequest(groups, writer);
    for (const s of this.distinctGroups().flat()) ((s.writer.pos = 0), (s.count = 0));
    const seq = ++this.cutSeq;
    this.outstanding.add(seq);
    this.waiting.push({ seq, body, writer, count: this.open, firstTry: 0, attempt: 0 });
    this.waitingItems += this.open;
    this.open = 0;
  }

  private pump(): void {
    while (this.giveUp && this.waiting.length > 0) {
      const batch = this.waiting.shift()!;
      this.waitingItems -= batch.count;
      this.counts.fail(batch.count, 'not sent: the Collector failed during shutdown');
      this.finish(batch);
    }
    while (this.sending < this.o.concurrency && this.waiting.length > 0) {
      const batch = this.waiting.shift()!;
      this.waitingItems -= batch.count;
      this.sending++;
      this.counts.inFlight += batch.count;
      void this.attempt(batch);
    }
    this.settleFlushes();
  }

  private finish(batch: Batch): void {
    this.outstanding.delete(batch.seq);
    if (this.spareWriters.length <= this.o.concurrency) this.spareWriters.push(batch.writer);
  }

  private async attempt(batch: Batch): Promise<void> {
    try {
      await this.deliver(batch);
    } catch (err) {
      // Only a throwing warn() could get here; the books must still balance.
      this.counts.failed += batch.count;
      this.o.warn(`OTLP ${this.what} export failed unexpectedly`, err);
    } finally {
      this.counts.inFlight -= batch.count;
      this.sending--;
      this.finish(batch);
      this.pump();
    }
  }

  private async deliver(batch: Batch): Promise<void> {
    batch.firstTry ||= Date.now();
    for (;;) {
      const timeoutMs = Math.max(1, Math.min(this.o.timeoutMs, this.deadline - Date.now()));
      const r: SendResult = await this.transport.send(batch.body, timeoutMs, this.abort.signal).catch((err: unknown) => ({
        ok: false as const,
        retryable: false,
        error: err instanceof Error ? err.message : String(err),
      }));
      if (r.ok) {
        const rejected = Math.min(r.rejected, batch.count);
        this.counts.exported += batch.count - rejected;
        if (rejected > 0) this.counts.fail(rejected, `the Collector rejected ${rejected} ${this.what}s${r.message ? `: ${r.message}` : ''}`);
        return;
      }
      const delay = Math.max(r.retryAfterMs ?? 0, Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * 1.5 ** batch.attempt++) * (0.8 + 0.4 * Math.random()));
      if (!r.retryable || this.stopping || Date.now() + delay - batch.firstTry > this.o.retryMs) {
        if (this.stopping) this.giveUp = true;
        this.counts.fail(batch.count, r.error);
        return;
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(t);
          this.sleeping.delete(wake);
          resolve();
        };
        const t = setTimeout(wake, delay);
        t.unref();
        this.sleeping.add(wake);
      });
    }
  }

}

/** Spans: sampled ones are encoded when they end. */
export class EagerSpanProcessor extends EagerBatcher<ReadableSpan> implements SpanProcessor {
  constructor(transport: Transport, options: EagerOptions) {
    super(transport, writeSpan, 'span', options);
  }
  onStart(_span: Span, _parentContext: Context): void {}
  onEnd(span: ReadableSpan): void {
    if ((span.spanContext().traceFlags & 1) === 0) return;
    this.add(span);
  }
  /** The direct path of the server and stage spans (direct-spans.ts): sampled spans built without the SDK's Tracer. */
  readonly emit = (span: ReadableSpan): void => this.add(span);
}

/** Log records: encoded when emitted. */
export class EagerLogRecordProcessor extends EagerBatcher<ReadableLogRecord> implements LogRecordProcessor {
  constructor(transport: Transport, options: EagerOptions) {
    super(transport, writeLogRecord, 'log record', options);
  }
  onEmit(record: ReadWriteLogRecord, _context?: Context): void {
    this.add(record as unknown as ReadableLogRecord);
  }
}
