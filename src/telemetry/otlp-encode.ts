// OTLP protobuf encoding of one span or one log record at a time, as it ends (the eager export pipeline,
// eager-export.ts). Written by hand because no library encodes items one by one: the SDK's serializer
// (@opentelemetry/otlp-transformer) encodes a whole batch at export time, in two passes (size estimate, then
// write), all of a 2048-span batch in one go on the event loop, and keeps every span object alive until then
// (copied by young-generation collections, promoted, then collected by mark-compact: the GC and RSS figures in
// docs/PERFORMANCE.md). The field numbers and the choices (span flags, kind + 1, int vs double) follow the
// OTLP .proto files and that serializer; test/telemetry/ decodes our bytes and compares them, field by field, with
// what the SDK's own serializer produces.
import type { HrTime } from '@opentelemetry/api';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';

const LEN = 2; // wire types
const VARINT = 0;
const I64 = 1;
const I32 = 5;

/** An append-only protobuf writer over one growable Buffer, reused from batch to batch. */
export class ProtoWriter {
  buf: Buffer;
  pos = 0;
  constructor(size = 16 * 1024) {
    this.buf = Buffer.allocUnsafeSlow(size);
  }
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafeSlow(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  /** The bytes written so far (a view: valid until the next write or reset). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
  tag(field: number, wire: number): void {
    this.varint32((field << 3) | wire);
  }
  varint32(v: number): void {
    this.ensure(5);
    const b = this.buf;
    let p = this.pos;
    v >>>= 0;
    while (v > 127) {
      b[p++] = (v & 127) | 128;
      v >>>= 7;
    }
    b[p++] = v;
    this.pos = p;
  }
  /** A uint32 or enum field (non-negative), left out when 0: proto3 does not write default values. */
  uint32Field(field: number, v: number | undefined): void {
    if (!v) return;
    this.tag(field, VARINT);
    this.varint32(v);
  }
  /** A varint of any safe integer; negative numbers as 64-bit two's complement (10 bytes), as protobuf says. */
  varint(v: number): void {
    if (v >= 0 && v <= 0xffffffff) return this.varint32(v);
    const u = BigInt.asUintN(64, BigInt(v));
    let lo = Number(u & 0xffffffffn);
    let hi = Number(u >> 32n);
    this.ensure(10);
    while (hi > 0 || lo > 127) {
      this.buf[this.pos++] = (lo & 127) | 128;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    this.buf[this.pos++] = lo;
  }
  fixed32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
  }
  fixed64(lo: number, hi: number): void {
    this.ensure(8);
    this.buf.writeUInt32LE(lo >>> 0, this.pos);
    this.buf.writeUInt32LE(hi >>> 0, this.pos + 4);
    this.pos += 8;
  }
  /** HrTime [seconds, nanoseconds] as fixed64 nanoseconds since the epoch, exactly (no float rounding). */
  hrTime(t: HrTime): void {
    const [s, ns] = t;
    // s * 1e9 + ns exceeds 2^53; split s into 16-bit halves so that every partial product stays exact.
    const a = (s % 65536) * 1e9; // < 2^46
    const b = Math.floor(s / 65536) * 1e9; // times 2^16
    const bLo = b % 65536;
    const low = (a % 4294967296) + bLo * 65536 + ns;
    const high = Math.floor(a / 4294967296) + Math.floor(b / 65536) + Math.floor(low / 4294967296);
    this.fixed64(low % 4294967296, high);
  }
  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }
  /** A length-delimited UTF-8 string; short ASCII strings (almost all keys and values) without a native call. */
  string(s: string): void {
    const n = s.length;
    if (n < 128) {
      this.ensure(n + 1);
      const b = this.buf;
      const start = this.pos + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c > 127) break;
        b[start + i] = c;
      }
      if (i === n) {
        b[this.pos] = n;
        this.pos = start + n;
        return;
      }
    }
    const len = Buffer.byteLength(s, 'utf8');
    this.varint32(len);
    this.ensure(len);
    this.pos += this.buf.write(s, this.pos, len, 'utf8');
  }
  /** A length-delimited bytes field from a lowercase or uppercase hex id (trace and span ids). */
  hexBytes(hex: string): void {
    const n = hex.length >>> 1;
    this.varint32(n);
    this.ensure(n);
    const b = this.buf;
    for (let i = 0, p = this.pos; i < n; i++, p++) b[p] = (nibble(hex.charCodeAt(2 * i)) << 4) | nibble(hex.charCodeAt(2 * i + 1));
    this.pos += n;
  }
  rawBytes(u8: Uint8Array): void {
    this.varint32(u8.length);
    this.raw(u8);
  }
  raw(u8: Uint8Array): void {
    this.ensure(u8.length);
    this.buf.set(u8, this.pos);
    this.pos += u8.length;
  }
  /** Starts a length-delimited message: reserves one length byte and returns where it is. */
  begin(): number {
    this.ensure(1);
    return this.pos++;
  }
  /** Ends it: writes the length, moving the body forward when the length needs more than one byte. */
  end(at: number): void {
    const len = this.pos - at - 1;
    if (len < 128) {
      this.buf[at] = len;
      return;
    }
    const size = varintSize(len);
    this.ensure(size - 1);
    this.buf.copy(this.buf, at + size, at + 1, this.pos);
    this.pos += size - 1;
    let v = len;
    let p = at;
    while (v > 127) {
      this.buf[p++] = (v & 127) | 128;
      v >>>= 7;
    }
    this.buf[p] = v;
  }
}

function nibble(c: number): number {
  return c <= 57 ? c - 48 : (c | 32) - 87;
}

function varintSize(v: number): number {
  let n = 1;
  while (v > 127) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** AnyValue (common.proto): string 1, bool 2, int 3, double 4, array 5, kvlist 6, bytes 7. */
function anyValue(w: ProtoWriter, value: unknown): void {
  switch (typeof value) {
    case 'string':
      w.tag(1, LEN);
      w.string(value);
      return;
    case 'boolean':
      w.tag(2, VARINT);
      w.varint32(value ? 1 : 0);
      return;
    case 'number':
      if (Number.isInteger(value) && value >= -(2 ** 63) && value < 2 ** 63) {
        w.tag(3, VARINT);
        w.varint(value);
      } else {
        w.tag(4, I64);
        w.double(value);
      }
      return;
  }
  if (value instanceof Uint8Array) {
    w.tag(7, LEN);
    w.rawBytes(value);
  } else if (Array.isArray(value)) {
    w.tag(5, LEN);
    const array = w.begin();
    for (const item of value) {
      w.tag(1, LEN);
      const at = w.begin();
      anyValue(w, item);
      w.end(at);
    }
    w.end(array);
  } else if (value !== null && typeof value === 'object') {
    w.tag(6, LEN);
    const list = w.begin();
    attributes(w, value as Record<string, unknown>, 1);
    w.end(list);
  }
}

/** Repeated KeyValue {key 1, value 2} under `field`. */
function attributes(w: ProtoWriter, attrs: Record<string, unknown>, field: number): void {
  for (const key in attrs) {
    if (!Object.hasOwn(attrs, key)) continue;
    w.tag(field, LEN);
    const kv = w.begin();
    w.tag(1, LEN);
    w.string(key);
    w.tag(2, LEN);
    const v = w.begin();
    anyValue(w, attrs[key]);
    w.end(v);
    w.end(kv);
  }
}

/** The body of a Resource message {attributes 1, dropped_attributes_count 2}. */
export function encodeResource(attrs: Record<string, unknown>): Buffer {
  const w = new ProtoWriter(1024);
  attributes(w, attrs, 1);
  return Buffer.from(w.bytes());
}

/** The body of an InstrumentationScope message {name 1, version 2, attributes 3}. */
export function encodeScope(scope: { name: string; version?: string; attributes?: Record<string, unknown> }): Buffer {
  const w = new ProtoWriter(256);
  w.tag(1, LEN);
  w.string(scope.name);
  if (scope.version) {
    w.tag(2, LEN);
    w.string(scope.version);
  }
  if (scope.attributes) attributes(w, scope.attributes, 3);
  return Buffer.from(w.bytes());
}

const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;

/** One Span (trace.proto) as field 2 of ScopeSpans: tag, length, message. */
export function writeSpan(w: ProtoWriter, span: ReadableSpan): void {
  w.tag(2, LEN);
  const at = w.begin();
  const ctx = span.spanContext();
  w.tag(1, LEN);
  w.hexBytes(ctx.traceId);
  w.tag(2, LEN);
  w.hexBytes(ctx.spanId);
  const traceState = ctx.traceState?.serialize();
  if (traceState) {
    w.tag(3, LEN);
    w.string(traceState);
  }
  const parent = span.parentSpanContext;
  if (parent?.spanId) {
    w.tag(4, LEN);
    w.hexBytes(parent.spanId);
  }
  w.tag(5, LEN);
  w.string(span.name);
  w.tag(6, VARINT);
  w.varint32(span.kind + 1); // API SpanKind.INTERNAL is 0, SPAN_KIND_INTERNAL is 1
  w.tag(7, I64);
  w.hrTime(span.startTime);
  w.tag(8, I64);
  w.hrTime(span.endTime);
  attributes(w, span.attributes, 9);
  w.uint32Field(10, span.droppedAttributesCount);
  for (const event of span.events) {
    w.tag(11, LEN);
    const e = w.begin();
    w.tag(1, I64);
    w.hrTime(event.time);
    w.tag(2, LEN);
    w.string(event.name);
    if (event.attributes) attributes(w, event.attributes, 3);
    w.uint32Field(4, event.droppedAttributesCount);
    w.end(e);
  }
  w.uint32Field(12, span.droppedEventsCount);
  for (const link of span.links) {
    w.tag(13, LEN);
    const l = w.begin();
    w.tag(1, LEN);
    w.hexBytes(link.context.traceId);
    w.tag(2, LEN);
    w.hexBytes(link.context.spanId);
    const linkState = link.context.traceState?.serialize();
    if (linkState) {
      w.tag(3, LEN);
      w.string(linkState);
    }
    if (link.attributes) attributes(w, link.attributes, 4);
    w.uint32Field(5, link.droppedAttributesCount);
    w.tag(6, I32);
    w.fixed32((link.context.traceFlags & 0xff) | HAS_IS_REMOTE | (link.context.isRemote ? IS_REMOTE : 0));
    w.end(l);
  }
  w.uint32Field(14, span.droppedLinksCount);
  w.tag(15, LEN);
  const st = w.begin();
  if (span.status.message) {
    w.tag(2, LEN);
    w.string(span.status.message);
  }
  w.uint32Field(3, span.status.code);
  w.end(st);
  w.tag(16, I32);
  w.fixed32((ctx.traceFlags & 0xff) | HAS_IS_REMOTE | (parent?.isRemote ? IS_REMOTE : 0));
  w.end(at);
}

/** One LogRecord (logs.proto) as field 2 of ScopeLogs. */
export function writeLogRecord(w: ProtoWriter, record: ReadableLogRecord): void {
  w.tag(2, LEN);
  const at = w.begin();
  w.tag(1, I64);
  w.hrTime(record.hrTime);
  w.uint32Field(2, record.severityNumber);
  if (record.severityText) {
    w.tag(3, LEN);
    w.string(record.severityText);
  }
  if (record.body !== undefined) {
    w.tag(5, LEN);
    const body = w.begin();
    anyValue(w, record.body);
    w.end(body);
  }
  attributes(w, record.attributes, 6);
  w.uint32Field(7, record.droppedAttributesCount);
  const ctx = record.spanContext;
  if (ctx?.traceFlags) {
    w.tag(8, I32);
    w.fixed32(ctx.traceFlags);
  }
  if (ctx?.traceId) {
    w.tag(9, LEN);
    w.hexBytes(ctx.traceId);
  }
  if (ctx?.spanId) {
    w.tag(10, LEN);
    w.hexBytes(ctx.spanId);
  }
  w.tag(11, I64);
  w.hrTime(record.hrTimeObserved);
  if (record.eventName) {
    w.tag(12, LEN);
    w.string(record.eventName);
  }
  w.end(at);
}

/**
 * One export request from items already encoded, grouped by resource and scope. ExportTraceServiceRequest and
 * ExportLogsServiceRequest have the same shape: repeated Resource{Spans,Logs} (1) { resource 1, repeated
 * Scope{Spans,Logs} 2 { scope 1, repeated items 2, schema_url 3 }, schema_url 3 }.
 */
export interface EncodedGroup {
  resource: Buffer;
  resourceSchemaUrl?: string;
  scopes: { scope: Buffer; schemaUrl?: string; items: Uint8Array }[];
}

/** Writes the request into `w` (from position 0) and returns a view of it, valid until `w` is written again. */
export function assembleRequest(groups: EncodedGroup[], w = new ProtoWriter(1024)): Buffer {
  w.pos = 0;
  w.ensure(groups.reduce((n, g) => n + g.resource.length + 64 + g.scopes.reduce((m, s) => m + s.items.length + s.scope.length + 32, 0), 0));
  for (const g of groups) {
    w.tag(1, LEN);
    const rs = w.begin();
    w.tag(1, LEN);
    w.rawBytes(g.resource);
    for (const s of g.scopes) {
      w.tag(2, LEN);
      const ss = w.begin();
      w.tag(1, LEN);
      w.rawBytes(s.scope);
      w.raw(s.items);
      if (s.schemaUrl) {
        w.tag(3, LEN);
        w.string(s.schemaUrl);
      }
      w.end(ss);
    }
    if (g.resourceSchemaUrl) {
      w.tag(3, LEN);
      w.string(g.resourceSchemaUrl);
    }
    w.end(rs);
  }
  return w.bytes();
}
