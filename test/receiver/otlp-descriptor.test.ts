// The receiver decodes with a descriptor generated from the vendored official opentelemetry-proto files: it must
// match them, and carry the fields the Collector's debug exporter prints.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import protobuf from 'protobufjs';
import { DESCRIPTOR_FILE, descriptorSource } from '../../scripts/otlp-descriptor.ts';
import { decodeProtobuf, logsOf, spansOf } from '../../src/receiver/otlp-model.ts';

test('the checked-in descriptor is what the vendored .proto files give (else run node scripts/otlp-descriptor.ts)', () => {
  assert.equal(readFileSync(DESCRIPTOR_FILE, 'utf8'), descriptorSource());
});

/** One length-delimited field holding `inner`, written by hand so that the test does not depend on the descriptor. */
const field = (no: number, inner: Uint8Array): Uint8Array => {
  const w = protobuf.Writer.create();
  w.uint32((no << 3) | 2).bytes(inner);
  return w.finish();
};
const text = (s: string) => Buffer.from(s, 'utf8');

test('decodes LogRecord.event_name, field 12 of the current opentelemetry-proto', () => {
  // resource_logs (1) > scope_logs (2) > log_records (2) > event_name (12)
  const body = field(1, field(2, field(2, field(12, text('model.loaded')))));
  const [record] = logsOf(decodeProtobuf('logs', body));
  assert.equal(record?.eventName, 'model.loaded');
});

test('decodes span links: trace id, span id, trace state and attributes', () => {
  const kv = Buffer.concat([field(1, text('link.kind')), field(2, field(1, text('retry')))]); // key, value.string_value
  const link = Buffer.concat([field(1, Buffer.alloc(16, 0xab)), field(2, Buffer.alloc(8, 0xcd)), field(3, text('k=v')), field(4, kv)]);
  // resource_spans (1) > scope_spans (2) > spans (2) > links (13)
  const [span] = spansOf(decodeProtobuf('traces', field(1, field(2, field(2, field(13, link))))));
  assert.deepEqual(span?.links, [{ traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8), traceState: 'k=v', attributes: { 'link.kind': 'retry' } }]);
});
