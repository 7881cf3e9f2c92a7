// What the OpenTelemetry SDK's own OTLP/gRPC exporters send, printed as the Collector's debug exporter prints it:
// span links (exporter/debugexporter/internal/otlptext, logLinks) and a log record's EventName line (logs.go).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SeverityNumber, type SpanContext } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { OtlpReceiver } from '../../src/receiver/receiver.ts';

describe('the receiver prints what the SDK exporters send over OTLP/gRPC', () => {
  let printed = '';
  const receiver = new OtlpReceiver({ grpcPort: 0, httpPort: 0, healthPort: 0, print: true, write: (t) => void (printed += t) });
  let tracerProvider: TracerProvider;
  let loggerProvider: LoggerProvider;
  const resource = resourceFromAttributes({ 'service.name': 'links-and-events' });

  before(async () => {
    await receiver.start();
    tracerProvider = new TracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor({ exporter: new OTLPTraceExporter({ url: receiver.grpcUrl }) })] });
    loggerProvider = new LoggerProvider({ resource, processors: [new SimpleLogRecordProcessor({ exporter: new OTLPLogExporter({ url: receiver.grpcUrl }) })] });
  });
  after(async () => {
    await Promise.all([tracerProvider.shutdown(), loggerProvider.shutdown()]);
    await receiver.stop();
  });

  test('a span with a link prints the Links block with the linked trace, span, trace state and attributes', async () => {
    const tracer = tracerProvider.getTracer('links-test', '1.0.0');
    const first = tracer.startSpan('first attempt');
    first.end();
    const linked: SpanContext = { ...first.spanContext(), traceState: new TraceState('vendor=abc') };
    const retry = tracer.startSpan('retry', { links: [{ context: linked, attributes: { 'link.reason': 'retry' } }] });
    retry.end();
    await tracerProvider.forceFlush();
    await receiver.waitFor(() => receiver.counts.spans >= 2, 10_000, 'both spans');

    const block = [
      `    Name           : retry`,
      'Links:',
      'SpanLink #0',
      `     -> Trace ID: ${linked.traceId}`,
      `     -> ID: ${linked.spanId}`,
      '     -> TraceState: vendor=abc',
      '     -> DroppedAttributesCount: 0',
      '     -> Attributes::',
      '          -> link.reason: Str(retry)',
    ];
    const lines = printed.split('\n');
    const at = lines.indexOf(block[0]!);
    assert.ok(at >= 0, `no span named retry in\n${printed}`);
    const links = lines.indexOf('Links:', at);
    assert.deepEqual(lines.slice(links, links + block.length - 1), block.slice(1), printed);
    assert.deepEqual(receiver.spans.find((s) => s.name === 'retry')?.links, [
      { traceId: linked.traceId, spanId: linked.spanId, traceState: 'vendor=abc', attributes: { 'link.reason': 'retry' } },
    ]);
    // A span without links prints no Links block.
    const firstAt = lines.indexOf('    Name           : first attempt');
    const nextSpan = lines.findIndex((l, i) => i > firstAt && /^(Span #|ResourceSpans #|.*\tinfo\t)/.test(l));
    assert.ok(!lines.slice(firstAt, nextSpan === -1 ? undefined : nextSpan).includes('Links:'));
  });

  test('a log record with an event name prints its EventName line between SeverityNumber and Body', async () => {
    loggerProvider.getLogger('events-test').emit({
      eventName: 'model.loaded',
      severityNumber: SeverityNumber.INFO,
      severityText: 'INFO',
      body: 'model ready',
      attributes: { 'model.version': '1.0.0' },
    });
    await loggerProvider.forceFlush();
    await receiver.waitFor(() => receiver.counts.logRecords >= 1, 10_000, 'the log record');

    const lines = printed.split('\n');
    const at = lines.indexOf('SeverityText: INFO');
    assert.ok(at >= 0, printed);
    assert.deepEqual(lines.slice(at, at + 6), [
      'SeverityText: INFO',
      'SeverityNumber: Info(9)',
      'EventName: model.loaded',
      'Body: Str(model ready)',
      'Attributes:',
      '     -> model.version: Str(1.0.0)',
    ]);
    assert.equal(receiver.logs[0]?.eventName, 'model.loaded');
  });
});
