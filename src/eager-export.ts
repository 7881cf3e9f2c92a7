// The eager export pipeline (EXPORT_PIPELINE=eager, the default for OTLP over gRPC and HTTP/protobuf): each
// sampled span and each log record is encoded to OTLP protobuf the moment it ends (otlp-encode.ts) and the span
// object is let go at once; batches are sent as ready-made bytes over gRPC or HTTP, retried on the answers the
// OTLP specification calls retryable, and counted exactly (exported, failed, dropped, queued, in flight).
//
// Why not the SDK's BatchSpanProcessor + OTLP exporter (still used for http/json, the console exporter,
// EXPORT_PIPELINE=sdk, and when TLS, header or compression variables ask for the SDK exporter's options):
// it keeps every span object until its batch is exported, so at a few thousand requests per second the spans
// survive young-generation collections and are promoted, and the whole batch is serialized in one go on the
// event loop. Measured in docs/PERFORMANCE.md ("What each change bought").
import { Client, credentials, Metadata, status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import type { Context } from '@opentelemetry/api';
import type { LogRecordProcessor, ReadableLogRecord, ReadWriteLogRecord } from '@opentelemetry/sdk-logs';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import { ProtobufLogsSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { request } from 'undici';
import type { BatchConfig } from './config.ts';
import type { ExportStatus } from './export-pipeline.ts';
import { assembleRequest, encodeResource, encodeScope, ProtoWriter, writeLogRecord, writeSpan, type EncodedGroup } from './otlp-encode.ts';

export type Signal = 'traces' | 'logs';

/** What one send attempt came back with. */
export type SendResult = { ok: true; rejected: number; message?: string } | { ok: false; retryable: boolean; retryAfterMs?: number; error: string };

export interface Transport {
  send(body: Buffer, timeoutMs: number): Promise<SendResult>;
  close(): void;
}

const GRPC_PATH: Record<Signal, string> = {
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
};
// The codes the OTLP exporter specification (and the SDK's gRPC exporter) retries.
const GRPC_RETRYABLE = new Set<number>([
  grpcStatus.CANCELLED,
  grpcStatus.DEADLINE_EXCEEDED,
  grpcStatus.RESOURCE_EXHAUSTED,
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
    if (signal === 'traces') {
      const p = ProtobufTraceSerializer.deserializeResponse(body).partialSuccess;
      return { rejected: Number(p?.rejectedSpans ?? 0), message: p?.errorMessage };
    }
    const p = ProtobufLogsSerializer.deserializeResponse(body).partialSuccess;
    return { rejected: Number(p?.rejectedLogRecords ?? 0), message: p?.errorMessage };
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
    'grpc.initial_reconnect_backoff_ms': 500,
    'grpc.max_reconnect_backoff_ms': 5000,
  });
  const same = (b: Buffer) => b;
  return {
    send: (body, timeoutMs) =>
      new Promise((resolve) => {
        client.makeUnaryRequest(GRPC_PATH[signal], same, same, body, new Metadata(), { deadline: Date.now() + timeoutMs }, (err: ServiceError | null, answer?: Buffer) => {
          if (err) resolve({ ok: false, retryable: GRPC_RETRYABLE.has(err.code), error: `gRPC ${grpcStatus[err.code] ?? err.code}: ${err.details}` });
          else resolve({ ok: true, ...rejectedCount(signal, answer ?? Buffer.alloc(0)) });
        });
      }),
    close: () => client.close(),
  };
}

/** OTLP/HTTP with protobuf bodies (POST to the signal's /v1/traces or /v1/logs URL). */
export function httpTransport(signal: Signal, url: string): Transport {
  return {
    send: async (body, timeoutMs) => {
      try {
        const res = await request(url, { method: 'POST', body, headers: { 'content-type': 'application/x-protobuf' }, signal: AbortSignal.timeout(timeoutMs) });
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
  warn: (msg: string, err: unknown) => void;
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
  /** The request, a view of `writer`'s buffer. */
  body: Buffer;
  writer: ProtoWriter;
  count: number;
  firstTry: number;
  attempt: number;
}

const BACKOFF_START_MS = 1000; // the SDK's exporter retry: 1 s, x1.5, at most 5 s, with jitter
const BACKOFF_MAX_MS = 5000;

/**
 * Items encoded as they arrive into one writer per (resource, scope); a batch is cut when it holds
 * maxExportBatchSize items or scheduleDelayMs after its first item; at most `concurrency` batches in flight.
 * The queue (open batch + batches waiting) holds at most maxQueueSize items; beyond that items are dropped and
 * counted.
 */
export class EagerBatcher<T extends Item> {
  readonly counts = { ended: 0, exported: 0, failed: 0, inFlight: 0, dropped: 0 };
  private readonly groups = new Map<object, Map<object, Group>>();
  private readonly encoded = new WeakMap<object, Buffer>();
  private open = 0;
  private waiting: Batch[] = [];
  private waitingItems = 0;
  private sending = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private lastWarning = 0;
  private idle: (() => void)[] = [];
  private readonly spareWriters: ProtoWriter[] = [];
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
    if (++this.open >= this.o.batch.maxExportBatchSize) this.cut();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.cut(), this.o.batch.scheduleDelayMs);
      this.timer.unref();
    }
  }

  status(): ExportStatus {
    const c = this.counts;
    return { ended: c.ended, exported: c.exported, failed: c.failed, inFlight: c.inFlight, queued: this.open + this.waitingItems, dropped: c.dropped };
  }

  /** Sends everything queued now and resolves when nothing is queued or in flight. */
  forceFlush(): Promise<void> {
    this.cut();
    if (this.open + this.waitingItems + this.sending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Flushes without further retries (a batch that fails now is counted as failed), then closes the channel. */
  async shutdown(): Promise<void> {
    this.stopping = true;
    for (const wake of this.sleeping) wake();
    await this.forceFlush();
    this.transport.close();
  }

  private group(item: T): Group {
    let byScope = this.groups.get(item.resource);
    if (byScope === undefined) this.groups.set(item.resource, (byScope = new Map()));
    let g = byScope.get(item.instrumentationScope);
    if (g === undefined) byScope.set(item.instrumentationScope, (g = { resource: item.resource, scope: item.instrumentationScope, writer: new ProtoWriter(), count: 0 }));
    return g;
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
    if (this.open === 0) return this.pump();
    const groups: EncodedGroup[] = [];
    for (const byScope of this.groups.values()) {
      let g: EncodedGroup | undefined;
      for (const s of byScope.values()) {
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
    for (const byScope of this.groups.values()) for (const s of byScope.values()) ((s.writer.pos = 0), (s.count = 0));
    this.waiting.push({ body, writer, count: this.open, firstTry: 0, attempt: 0 });
    this.waitingItems += this.open;
    this.open = 0;
    this.pump();
  }

  private pump(): void {
    while (this.sending < this.o.concurrency && this.waiting.length > 0) {
      const batch = this.waiting.shift()!;
      this.waitingItems -= batch.count;
      this.sending++;
      this.counts.inFlight += batch.count;
      void this.attempt(batch);
    }
    if (this.sending === 0 && this.open === 0 && this.waiting.length === 0) for (const done of this.idle.splice(0)) done();
  }

  private async attempt(batch: Batch): Promise<void> {
    batch.firstTry ||= Date.now();
    for (;;) {
      const r: SendResult = await this.transport.send(batch.body, this.o.timeoutMs).catch((err: unknown) => ({
        ok: false as const,
        retryable: false,
        error: err instanceof Error ? err.message : String(err),
      }));
      if (r.ok) {
        this.counts.exported += batch.count - r.rejected;
        if (r.rejected > 0) this.fail(r.rejected, `the Collector rejected ${r.rejected} ${this.what}s${r.message ? `: ${r.message}` : ''}`);
        break;
      }
      const delay = Math.max(r.retryAfterMs ?? 0, Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * 1.5 ** batch.attempt++) * (0.8 + 0.4 * Math.random()));
      if (!r.retryable || this.stopping || Date.now() + delay - batch.firstTry > this.o.retryMs) {
        this.fail(batch.count, r.error);
        break;
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
    this.counts.inFlight -= batch.count;
    if (this.spareWriters.length <= this.o.concurrency) this.spareWriters.push(batch.writer);
    this.sending--;
    this.pump();
  }

  private fail(count: number, error: string): void {
    this.counts.failed += count;
    const now = Date.now();
    if (now - this.lastWarning > 10_000) {
      this.lastWarning = now;
      this.o.warn(`OTLP ${this.what} export failed (${this.counts.failed} ${this.what}s failed so far); requests are still served`, error);
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
