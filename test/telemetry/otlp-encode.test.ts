// The hand-written OTLP encoder (src/telemetry/otlp-encode.ts) against the SDK's own serializer
// (@opentelemetry/otlp-transformer), both read back by a small wire-format reader written here from the OTLP
// .proto field numbers: a neutral oracle that knows every field (event_name included) and rejects unknown ones.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { context, SeverityNumber, SpanKind, SpanStatusCode, trace, TraceFlags, type AnyValue, type AttributeValue, type Attributes } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { ProtobufLogsSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { LoggerProvider, type LogRecordProcessor, type ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { TracerProvider, type ReadableSpan, type SpanLimits, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { assembleRequest, encodeResource, encodeScope, ProtoWriter, writeLogRecord, writeSpan, type EncodedGroup } from '../../src/telemetry/otlp-encode.ts';

// ---- the oracle: a strict protobuf reader driven by the OTLP schema -------------------------------------------

type Scalar = 'string' | 'bytes' | 'varint' | 'fixed64' | 'fixed32' | 'double';
type FieldType = Scalar | { msg: string };
interface FieldSpec {
  type: FieldType;
  repeated?: boolean;
}
const r = (type: FieldType): FieldSpec => ({ type, repeated: true });
const s = (type: FieldType): FieldSpec => ({ type });

/** Field numbers and types from opentelemetry-proto (common, resource, trace, logs and the two service requests). */
const SCHEMA: Record<string, Record<number, FieldSpec>> = {
  TraceRequest: { 1: r({ msg: 'ResourceSpans' }) },
  LogsRequest: { 1: r({ msg: 'ResourceLogs' }) },
  ResourceSpans: { 1: s({ msg: 'Resource' }), 2: r({ msg: 'ScopeSpans' }), 3: s('string') },
  ResourceLogs: { 1: s({ msg: 'Resource' }), 2: r({ msg: 'ScopeLogs' }), 3: s('string') },
  ScopeSpans: { 1: s({ msg: 'Scope' }), 2: r({ msg: 'Span' }), 3: s('string') },
  ScopeLogs: { 1: s({ msg: 'Scope' }), 2: r({ msg: 'LogRecord' }), 3: s('string') },
  Resource: { 1: r({ msg: 'KeyValue' }), 2: s('varint') },
  Scope: { 1: s('string'), 2: s('string'), 3: r({ msg: 'KeyValue' }), 4: s('varint') },
  KeyValue: { 1: s('string'), 2: s({ msg: 'AnyValue' }) },
  // A oneof: a present field is meaningful even when it holds the default (an empty string, 0, false).
  AnyValue: { 1: s('string'), 2: s('varint'), 3: s('varint'), 4: s('double'), 5: s({ msg: 'ArrayValue' }), 6: s({ msg: 'KeyValueList' }), 7: s('bytes') },
  ArrayValue: { 1: r({ msg: 'AnyValue' }) },
  KeyValueList: { 1: r({ msg: 'KeyValue' }) },
  Span: {
    1: s('bytes'), 2: s('bytes'), 3: s('string'), 4: s('bytes'), 5: s('string'), 6: s('varint'), 7: s('fixed64'), 8: s('fixed64'),
    9: r({ msg: 'KeyValue' }), 10: s('varint'), 11: r({ msg: 'Event' }), 12: s('varint'), 13: r({ msg: 'Link' }), 14: s('varint'),
    15: s({ msg: 'Status' }), 16: s('fixed32'),
  },
  Event: { 1: s('fixed64'), 2: s('string'), 3: r({ msg: 'KeyValue' }), 4: s('varint') },
  Link: { 1: s('bytes'), 2: s('bytes'), 3: s('string'), 4: r({ msg: 'KeyValue' }), 5: s('varint'), 6: s('fixed32') },
  Status: { 2: s('string'), 3: s('varint') },
  LogRecord: {
    1: s('fixed64'), 2: s('varint'), 3: s('string'), 5: s({ msg: 'AnyValue' }), 6: r({ msg: 'KeyValue' }), 7: s('varint'),
    8: s('fixed32'), 9: s('bytes'), 10: s('bytes'), 11: s('fixed64'), 12: s('string'),
  },
};
const WIRE: Record<Scalar | 'msg', number> = { varint: 0, fixed64: 1, double: 1, string: 2, bytes: 2, msg: 2, fixed32: 5 };

/** A decoded message: field number -> values in the order they came (the order of repeated fields matters). */
type Tree = { [field: number]: Value[] };
type Value = string | bigint | number | Tree;

/**
 * Decodes `bytes` as message `type` into a canonical tree: fields grouped by number (so their order on the wire does
 * not matter), proto3 defaults of plain scalar fields left out (writing `dropped_attributes_count: 0` or not is the
 * same message), every length checked, unknown fields, wrong wire types and repeated singular fields refused.
 */
function decode(type: string, bytes: Uint8Array): Tree {
  const spec = SCHEMA[type]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tree: Tree = {};
  let p = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      assert.ok(p < bytes.length, `${type}: truncated varint`);
      assert.ok(shift < 70n, `${type}: varint longer than 10 bytes`);
      const b = bytes[p++]!;
      v |= BigInt(b & 127) << shift;
      if (b < 128) return BigInt.asUintN(64, v);
    }
  };
  const take = (n: number): Uint8Array => {
    assert.ok(p + n <= bytes.length, `${type}: field runs past the end of its message`);
    const out = bytes.subarray(p, p + n);
    p += n;
    return out;
  };
  while (p < bytes.length) {
    const key = varint();
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    const f = spec[field];
    assert.ok(f, `${type}: unknown field ${field}`);
    const kind = typeof f.type === 'string' ? f.type : 'msg';
    assert.equal(wire, WIRE[kind], `${type}.${field}: wire type`);
    let value: Value;
    switch (kind) {
      case 'varint':
        value = varint();
        break;
      case 'fixed64':
        value = view.getBigUint64(take(8).byteOffset - bytes.byteOffset, true);
        break;
      case 'double':
        value = view.getFloat64(take(8).byteOffset - bytes.byteOffset, true);
        break;
      case 'fixed32':
        value = view.getUint32(take(4).byteOffset - bytes.byteOffset, true);
        break;
      case 'string':
        value = new TextDecoder('utf-8', { fatal: true }).decode(take(Number(varint())));
        break;
      case 'bytes':
        value = `bytes:${Buffer.from(take(Number(varint()))).toString('hex')}`;
        break;
      default:
        value = decode((f.type as { msg: string }).msg, take(Number(varint())));
    }
    const isDefault = value === 0n || value === 0 || value === '' || value === 'bytes:';
    if (isDefault && kind !== 'msg' && type !== 'AnyValue') continue;
    assert.ok(f.repeated || tree[field] === undefined, `${type}.${field} is not repeated but appears twice`);
    (tree[field] ??= []).push(value);
  }
  return tree;
}

// ---- building requests both ways ---------------------------------------------------------------------------------

interface Item {
  resource: Resource;
  instrumentationScope: { name: string; version?: string; schemaUrl?: string; attributes?: Attributes };
}

/** Our request, grouped as the SDK groups (resource, then scope, by identity, in order of first appearance). */
function ours<T extends Item>(items: T[], write: (w: ProtoWriter, item: T) => void, writerSize = 1): Buffer {
  const byResource = new Map<Resource, Map<object, T[]>>();
  for (const item of items) {
    const scopes = byResource.get(item.resource) ?? new Map<object, T[]>();
    byResource.set(item.resource, scopes);
    scopes.set(item.instrumentationScope, [...(scopes.get(item.instrumentationScope) ?? []), item]);
  }
  const groups: EncodedGroup[] = [...byResource].map(([resource, scopes]) => ({
    resource: encodeResource(resource.attributes),
    resourceSchemaUrl: resource.schemaUrl,
    scopes: [...scopes.values()].map((group) => {
      const w = new ProtoWriter(writerSize); // tiny on purpose: every growth path runs
      for (const item of group) write(w, item);
      const scope = group[0]!.instrumentationScope;
      return { scope: encodeScope(scope), schemaUrl: scope.schemaUrl, items: Buffer.from(w.bytes()) };
    }),
  }));
  return Buffer.from(assembleRequest(groups, new ProtoWriter(1)));
}

function assertSameSpans(spans: ReadableSpan[]): Tree {
  const expected = decode('TraceRequest', ProtobufTraceSerializer.serializeRequest(spans)!);
  const actual = decode('TraceRequest', ours(spans, writeSpan));
  assert.deepStrictEqual(actual, expected);
  return actual;
}

function assertSameLogs(records: ReadableLogRecord[]): Tree {
  const expected = decode('LogsRequest', ProtobufLogsSerializer.serializeRequest(records)!);
  const actual = decode('LogsRequest', ours(records, writeLogRecord));
  assert.deepStrictEqual(actual, expected);
  return actual;
}

/** A provider whose only processor keeps every span that ends (the SDK's exporting processors hand them over later). */
function tracing(resource: Resource, spanLimits?: SpanLimits) {
  const ended: ReadableSpan[] = [];
  const keep: SpanProcessor = { onStart() {}, onEnd: (span) => void ended.push(span), forceFlush: async () => {}, shutdown: async () => {} };
  const provider = new TracerProvider({ resource, spanLimits, spanProcessors: [keep] });
  return { provider, spans: () => [...ended] };
}

function logging(resource: Resource) {
  const emitted: ReadableLogRecord[] = [];
  const keep: LogRecordProcessor = { onEmit: (record) => void emitted.push(record), forceFlush: async () => {}, shutdown: async () => {} };
  const provider = new LoggerProvider({ resource, processors: [keep] });
  return { provider, records: () => [...emitted] };
}

/** `item` seen through another instrumentation scope (the SDKs' tracers and loggers take no scope attributes). */
function withScope<T extends object>(item: T, scope: Item['instrumentationScope']): T {
  return Object.create(item, { instrumentationScope: { value: scope } }) as T;
}

const resource = resourceFromAttributes({ 'service.name': 'svc', 'service.version': '1.2.3', 'host.cpu.count': 2, 'a.flag': true }, { schemaUrl: 'https://opentelemetry.io/schemas/1.37.0' });
const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const SPAN_ID = 'b7ad6b7169203331';

/** Attribute values of every shape a span takes. */
const EVERY_ATTRIBUTE: Attributes = {
  str: 'value',
  empty: '',
  unicode: 'naïve ✓ 日本語 🎉',
  'ключ-🔑': 'key in UTF-8',
  long127: 'a'.repeat(127), // the last length that fits one byte
  long128: 'b'.repeat(128),
  long16384: 'c'.repeat(16_384), // three-byte length
  multibyte: 'é'.repeat(70_000), // 140,000 UTF-8 bytes: the enclosing messages' lengths move their bodies
  loneSurrogate: 'a\ud800b',
  zero: 0,
  negativeZero: -0,
  int: 42,
  negative: -42,
  minusOne: -1,
  uint32Max: 0xffffffff,
  above32: 2 ** 32,
  maxSafe: Number.MAX_SAFE_INTEGER,
  minSafe: Number.MIN_SAFE_INTEGER,
  int64Below2p63: 2 ** 63 - 1024, // the largest double below 2^63: still an int
  int64Min: -(2 ** 63),
  twoPow63: 2 ** 63, // out of int64 range: a double
  double: 0.25,
  negativeDouble: -1.5e-300,
  nan: NaN,
  infinity: Infinity,
  minusInfinity: -Infinity,
  yes: true,
  no: false,
  strings: ['a', '', 'ü'],
  ints: [1, -2, 2 ** 40],
  doubles: [1.5, NaN, -Infinity],
  mixedNumbers: [1, 2.5],
  bools: [true, false],
  emptyArray: [],
  withNulls: ['a', null, undefined, 'b'] as AttributeValue,
};

describe('ProtoWriter', () => {
  const bytes = (fn: (w: ProtoWriter) => void) => {
    const w = new ProtoWriter(1);
    fn(w);
    return [...w.bytes()];
  };

  test('varints are the protobuf encodings, negatives as ten-byte two\'s complement', () => {
    assert.deepEqual(bytes((w) => w.varint(0)), [0]);
    assert.deepEqual(bytes((w) => w.varint(127)), [127]);
    assert.deepEqual(bytes((w) => w.varint(300)), [0xac, 0x02]);
    assert.deepEqual(bytes((w) => w.varint(0xffffffff)), [0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert.deepEqual(bytes((w) => w.varint(2 ** 32)), [0x80, 0x80, 0x80, 0x80, 0x10]);
    assert.deepEqual(bytes((w) => w.varint(-1)), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    assert.deepEqual(bytes((w) => w.varint(-(2 ** 63))), [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
  });

  test('every safe integer and int64 boundary reads back as the same two\'s complement value', () => {
    fc.assert(
      fc.property(fc.oneof(fc.maxSafeInteger(), fc.constantFrom(2 ** 63 - 1024, -(2 ** 63), 2 ** 53 + 2, -(2 ** 60))), (v) => {
        const w = new ProtoWriter(1);
        w.tag(3, 0);
        w.varint(v);
        assert.deepStrictEqual(decode('AnyValue', w.bytes()), { 3: [BigInt.asUintN(64, BigInt(v))] });
      }),
    );
  });

  test('a nested message keeps its body intact when its length needs one, two, three or four bytes (127, 128, 16,384 and 2^21 included)', () => {
    for (const n of [0, 125, 126, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152]) {
      const w = new ProtoWriter(1);
      w.tag(1, 2);
      const kv = w.begin();
      w.tag(1, 2);
      w.string('k');
      w.tag(2, 2);
      const v = w.begin();
      w.tag(7, 2);
      w.rawBytes(new Uint8Array(n).fill(0xab));
      w.end(v);
      w.end(kv);
      const tree = decode('KeyValueList', w.bytes());
      const value = (tree[1]![0] as Tree)[2]![0] as Tree;
      assert.equal(value[7]![0], `bytes:${'ab'.repeat(n)}`, `${n} bytes`);
    }
  });

  test('timestamps are nanoseconds since the epoch exactly, past 2^53', () => {
    for (const [t, ns] of [
      [[0, 0], 0n],
      [[1_764_000_000, 123_456_789], 1_764_000_000_123_456_789n],
      [[4_294_967_295, 999_999_999], 4_294_967_295_999_999_999n],
      [[65_536, 1], 65_536_000_000_001n],
    ] as const) {
      const w = new ProtoWriter(1);
      w.hrTime([t[0], t[1]]);
      assert.equal(w.bytes().readBigUInt64LE(0), ns, `${t}`);
    }
  });

  test('ids are written from lowercase or uppercase hex', () => {
    assert.deepEqual(bytes((w) => w.hexBytes('0aF7')), [2, 0x0a, 0xf7]);
  });
});

describe('spans against the SDK serializer', () => {
  test('attributes of every value type, the span kinds, status codes, parents, events and links', () => {
    const { provider, spans } = tracing(resource);
    const tracer = provider.getTracer('scope-a', '0.1.0', { schemaUrl: 'https://example.com/scope-schema' });
    const remote = trace.setSpanContext(context.active(), {
      traceId: TRACE_ID,
      spanId: SPAN_ID,
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
      traceState: new TraceState('vendor=value,other=1'),
    });
    const server = tracer.startSpan('POST /predict', { kind: SpanKind.SERVER, attributes: EVERY_ATTRIBUTE, startTime: [1_764_000_000, 1] }, remote);
    server.addEvent('no attributes', [1_764_000_000, 2]);
    server.addEvent('exception', { 'exception.type': 'Error', 'exception.message': 'boom', nums: [1, 2] });
    server.addLink({ context: { traceId: '1'.repeat(32), spanId: '2'.repeat(16), traceFlags: TraceFlags.NONE, isRemote: false } });
    server.addLink({
      context: { traceId: 'A'.repeat(32), spanId: 'B'.repeat(16), traceFlags: TraceFlags.SAMPLED, isRemote: true, traceState: new TraceState('k=v') },
      attributes: { why: 'batch', n: 3 },
    });
    server.setStatus({ code: SpanStatusCode.ERROR, message: 'model failed: ✗' });
    const parent = trace.setSpan(context.active(), server);
    for (const kind of [SpanKind.INTERNAL, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER]) tracer.startSpan(`kind ${kind}`, { kind }, parent).end();
    const ok = tracer.startSpan('ok', {}, parent);
    ok.setStatus({ code: SpanStatusCode.OK });
    ok.end();
    const errorNoMessage = tracer.startSpan('error without message', {}, parent);
    errorNoMessage.setStatus({ code: SpanStatusCode.ERROR });
    errorNoMessage.end();
    tracer.startSpan('', { root: true }).end(); // empty name, no parent
    const local = trace.setSpanContext(context.active(), { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.SAMPLED, isRemote: false });
    tracer.startSpan('local parent', {}, local).end();
    server.end([1_764_000_001, 999_999_999]);

    const tree = assertSameSpans(spans());
    const scopeSpans = (tree[1]![0] as Tree)[2]![0] as Tree;
    assert.equal(scopeSpans[2]!.length, 9, 'every span is in the request');
  });

  test('dropped attribute, event and link counts, on the span and on its events and links', () => {
    const { provider, spans } = tracing(resource, { attributeCountLimit: 2, eventCountLimit: 1, linkCountLimit: 1, attributePerEventCountLimit: 1, attributePerLinkCountLimit: 1 });
    const link = (n: number) => ({ context: { traceId: TRACE_ID, spanId: SPAN_ID.slice(0, 15) + n, traceFlags: 1 }, attributes: { a: 1, b: 2, c: 3 } });
    const span = provider.getTracer('limits').startSpan('limited', { attributes: { a: 1, b: 2, c: 3, d: 4 }, links: [link(1), link(2), link(3)] });
    span.addEvent('e1');
    span.addEvent('e2');
    span.addEvent('e3', { a: 1, b: 2 }); // the limit keeps the last event
    span.end();
    const [ended] = spans();
    assert.deepEqual([ended!.droppedAttributesCount, ended!.droppedEventsCount, ended!.droppedLinksCount], [2, 2, 2]);
    assert.deepEqual([ended!.events[0]!.droppedAttributesCount, ended!.links[0]!.droppedAttributesCount], [1, 2]);
    assertSameSpans(spans());
  });

  test('two resources (with and without schema URL), several scopes, scope version, schema URL and attributes', () => {
    const a = tracing(resource);
    const b = tracing(resourceFromAttributes({ 'service.name': 'other', list: ['x', 'y'] }));
    const scoped = { name: 'with-attributes', version: '9.9.9', schemaUrl: 'https://example.com/s', attributes: { 'scope.attr': 'v', n: 1, list: [true] } };
    for (let i = 0; i < 3; i++) a.provider.getTracer('first').startSpan(`first ${i}`).end();
    a.provider.getTracer('second', '2.0.0').startSpan('second').end();
    b.provider.getTracer('first').startSpan('other resource').end();
    const all = [...a.spans(), ...b.spans()];
    const tree = assertSameSpans([...all, withScope(all[0]!, scoped), withScope(all[1]!, scoped)]);
    assert.equal(tree[1]!.length, 2, 'two ResourceSpans');
    assert.equal(((tree[1]![0] as Tree)[2]!).length, 3, 'three ScopeSpans under the first resource');
  });

  test('random attribute maps encode as the SDK encodes them', () => {
    const { provider, spans } = tracing(resource);
    const tracer = provider.getTracer('property');
    fc.assert(
      fc.property(fc.dictionary(key, attributeValue, { maxKeys: 12 }), (attributes) => {
        tracer.startSpan('p', { attributes }).end();
        const ended = spans().at(-1)!;
        const expected = decode('TraceRequest', ProtobufTraceSerializer.serializeRequest([ended])!);
        assert.deepStrictEqual(decode('TraceRequest', ours([ended], writeSpan)), expected);
      }),
      { numRuns: 300 },
    );
  });
});

describe('log records against the SDK serializer', () => {
  test('bodies of every shape, severities, attributes, trace context or none, event names', () => {
    const { provider, records } = logging(resource);
    const logger = provider.getLogger('log-scope', '2.0.0', { schemaUrl: 'https://example.com/logs' });
    const sampled = trace.setSpanContext(context.active(), { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.SAMPLED });
    const unsampled = trace.setSpanContext(context.active(), { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.NONE });
    const bodies: AnyValue[] = [
      'Prediction completed',
      '',
      'é'.repeat(300),
      0,
      -7,
      2 ** 40,
      12.5,
      NaN,
      true,
      false,
      [1, 'two', [3.5], { four: 4 }],
      [],
      { msg: 'nested', list: [1, 'two'], deep: { ok: false, none: null }, bytes: new Uint8Array([0, 1, 255]) },
      {},
      new Uint8Array([0xde, 0xad, 0xbe, 0xef]),
      new Uint8Array(0),
      null,
    ];
    for (const body of bodies) logger.emit({ body });
    logger.emit({ severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: 'with context', attributes: EVERY_ATTRIBUTE, context: sampled });
    logger.emit({ severityNumber: SeverityNumber.FATAL4, severityText: 'FATAL4', context: unsampled, eventName: 'model.error' });
    logger.emit({ severityNumber: SeverityNumber.UNSPECIFIED, attributes: { map: { a: 1, b: [true] }, bytes: new Uint8Array([7]) } });
    logger.emit({ timestamp: [1_764_000_000, 123_456_789], observedTimestamp: [1_764_000_001, 0], eventName: 'événement' });
    logger.emit({}); // nothing but the timestamps

    const tree = assertSameLogs(records());
    const scopeLogs = (tree[1]![0] as Tree)[2]![0] as Tree;
    assert.equal(scopeLogs[2]!.length, bodies.length + 5, 'every record is in the request');
    const named = (scopeLogs[2]![bodies.length + 1] as Tree)[12];
    assert.deepEqual(named, ['model.error'], 'the event name is there (field 12)');
  });

  test('records from two resources and scopes, with scope attributes, group as the SDK groups them', () => {
    const a = logging(resource);
    const b = logging(resourceFromAttributes({ 'service.name': 'other' }));
    a.provider.getLogger('one').emit({ body: 'a1' });
    a.provider.getLogger('two', '1.0.0').emit({ body: 'a2' });
    b.provider.getLogger('one').emit({ body: 'b1' });
    a.provider.getLogger('one').emit({ body: 'a3' });
    const all = [...a.records(), ...b.records()];
    const tree = assertSameLogs([...all, withScope(all[0]!, { name: 'scoped', attributes: { k: 'v' } })]);
    assert.equal(tree[1]!.length, 2);
  });

  test('random bodies and attribute maps, nested maps and bytes included, encode as the SDK encodes them', () => {
    const { provider, records } = logging(resource);
    const logger = provider.getLogger('property');
    fc.assert(
      fc.property(anyValue, fc.dictionary(key, anyValue, { maxKeys: 8 }), (body, attributes) => {
        logger.emit({ body, attributes: attributes as Record<string, AnyValue> });
        const record = records().at(-1)!;
        const expected = decode('LogsRequest', ProtobufLogsSerializer.serializeRequest([record])!);
        assert.deepStrictEqual(decode('LogsRequest', ours([record], writeLogRecord)), expected);
      }),
      { numRuns: 300 },
    );
  });
});

describe('the oracle', () => {
  test('it tells a wrong field number, a wrong value and a wrong length apart from the right encoding', () => {
    const { provider, spans } = tracing(resource);
    provider.getTracer('t').startSpan('s', { attributes: { k: 1 } }).end();
    const good = ours(spans(), writeSpan);
    const expected = decode('TraceRequest', ProtobufTraceSerializer.serializeRequest(spans())!);
    assert.deepStrictEqual(decode('TraceRequest', good), expected);
    const name = good.indexOf(Buffer.from([(5 << 3) | 2, 1, 's'.charCodeAt(0)]));
    assert.ok(name > 0);
    const renamed = Buffer.from(good);
    renamed[name + 2] = 't'.charCodeAt(0);
    assert.throws(() => assert.deepStrictEqual(decode('TraceRequest', renamed), expected));
    const unknown = Buffer.from(good);
    unknown[name] = (17 << 3) | 2;
    assert.throws(() => decode('TraceRequest', unknown), /unknown field 17/);
    const short = Buffer.from(good);
    short[name + 1] = 100;
    assert.throws(() => decode('TraceRequest', short), /past the end/);
  });
});

// ---- arbitraries ---------------------------------------------------------------------------------------------

const text = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), fc.string({ minLength: 120, maxLength: 20_000, unit: 'binary-ascii' }));
const key = fc.oneof(fc.string({ minLength: 1 }), fc.string({ unit: 'binary', minLength: 1 }));
const numeric = fc.oneof(
  fc.integer(),
  fc.maxSafeInteger(),
  fc.double(),
  fc.double({ min: -(2 ** 64), max: 2 ** 64 }),
  fc.constantFrom(0, -0, 2 ** 63, -(2 ** 63), 2 ** 63 - 1024, NaN, Infinity, -Infinity),
);
const attributeValue: fc.Arbitrary<AttributeValue> = fc.oneof(
  text,
  numeric,
  fc.boolean(),
  fc.array(text, { maxLength: 5 }),
  fc.array(numeric, { maxLength: 5 }),
  fc.array(fc.boolean(), { maxLength: 5 }),
);
const { anyValue } = fc.letrec<{ anyValue: AnyValue }>((tie) => ({
  anyValue: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    text,
    numeric,
    fc.boolean(),
    fc.constant(null),
    fc.uint8Array({ maxLength: 40 }),
    fc.array(tie('anyValue'), { maxLength: 4 }),
    fc.dictionary(key, tie('anyValue'), { maxKeys: 4 }),
  ),
}));
