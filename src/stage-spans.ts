// The spans of the model pipeline's stages (preprocess, inference, postprocess): children of the server span that
// nothing runs inside (they are never made active) and that carry a few fixed attributes. By default they go
// through the SDK's tracer (model.ts). With the eager span pipeline they are built here and handed straight to the
// exporter, the way the logger's `direct` path hands it log records (logger.ts). This module must not import
// telemetry.ts: instrumentation.ts imports it, and telemetry.ts may only be loaded once the SDK is registered.
//
// Why by hand: through the SDK's Tracer the three spans, started, ended and encoded, cost 6.99 us of CPU per
// request; built here, 4.37 us (`taskset -c 0 node --max-semi-space-size=8 scripts/bench-stage-spans.ts`, 200,000
// requests x 5 interleaved rounds, docs/PERFORMANCE.md). The difference is what startSpan does for any span and
// these do not need: the active-context and suppression checks, the sampler, attribute validation twice over, the
// SDK's own span metrics, and a SpanImpl with its guards. What this builds is the object the SDK would hand
// the span processor at end(): same ids (the SDK's RandomIdGenerator), same clock (start from Date.now(), end from
// the performance clock, as SpanImpl does), same exception event, same sampling decision (the stages are sampled
// exactly when their parent, the server span, is: true of every sampler this service offers). The encoded spans
// are compared field by field with the SDK's in test/stage-spans.test.ts.
import { SpanKind, SpanStatusCode, trace, type Attributes, type Context, type HrTime, type SpanContext, type SpanStatus } from '@opentelemetry/api';
import { addHrTimes, millisToHrTime } from '@opentelemetry/core';
import { RandomIdGenerator, type ReadableSpan, type TimedEvent } from '@opentelemetry/sdk-trace';

/** What the pipeline does with a stage's span. */
export interface StageSpan {
  recordException(exception: Error): void;
  setStatus(status: SpanStatus): void;
  end(): void;
}

/** Starts the span of one stage, a child of the span in `parent`. */
export type StartStageSpan = (name: string, attributes: Attributes, parent: Context) => StageSpan;

/** Where a direct stage span goes when it ends, with the resource and scope it is tagged with. */
export interface StageSpanSink {
  emit(span: ReadableSpan): void;
  readonly resource: ReadableSpan['resource'];
  readonly scope: ReadableSpan['instrumentationScope'];
}

// For a parent that is not sampled: nothing is recorded, as with the SDK's non-recording span. Without any parent
// span nothing is recorded either, where the SDK would start a trace of its own; the app never does that (the
// stages run inside a request, under its server span).
const NOT_RECORDED: StageSpan = { recordException() {}, setStatus() {}, end() {} };
const ids = new RandomIdGenerator();
const NO_LINKS: ReadableSpan['links'] = [];
const NO_EVENTS: TimedEvent[] = [];
const UNSET: SpanStatus = { code: SpanStatusCode.UNSET };
const ZERO: HrTime = [0, 0];

class DirectStageSpan implements ReadableSpan, StageSpan {
  readonly kind = SpanKind.INTERNAL;
  readonly links = NO_LINKS;
  events = NO_EVENTS;
  status = UNSET;
  readonly startTime: HrTime;
  endTime: HrTime = ZERO;
  duration: HrTime = ZERO;
  ended = false;
  readonly droppedAttributesCount = 0;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;
  readonly resource: ReadableSpan['resource'];
  readonly instrumentationScope: ReadableSpan['instrumentationScope'];
  readonly name: string;
  readonly attributes: Attributes;
  readonly parentSpanContext: SpanContext;
  private readonly context: SpanContext;
  private readonly startPerf: number;
  private readonly sink: StageSpanSink;

  constructor(sink: StageSpanSink, name: string, attributes: Attributes, parent: SpanContext) {
    this.sink = sink;
    this.name = name;
    this.attributes = attributes;
    this.parentSpanContext = parent;
    this.context = { traceId: parent.traceId, spanId: ids.generateSpanId(), traceFlags: parent.traceFlags, traceState: parent.traceState };
    this.resource = sink.resource;
    this.instrumentationScope = sink.scope;
    this.startTime = millisToHrTime(Date.now());
    this.startPerf = performance.now();
  }

  spanContext(): SpanContext {
    return this.context;
  }

  /** The SDK's recordException: an "exception" event with the exception's type, message and stack. */
  recordException(exception: Error): void {
    const attributes: Attributes = {};
    const code = (exception as { code?: unknown }).code;
    if (code) attributes['exception.type'] = String(code);
    else if (exception.name) attributes['exception.type'] = exception.name;
    if (exception.message) attributes['exception.message'] = exception.message;
    if (exception.stack) attributes['exception.stacktrace'] = exception.stack;
    if (this.ended || (attributes['exception.type'] === undefined && attributes['exception.message'] === undefined)) return;
    if (this.events === NO_EVENTS) this.events = [];
    this.events.push({ name: 'exception', attributes, time: this.now(), droppedAttributesCount: 0 });
  }

  setStatus(status: SpanStatus): void {
    if (this.ended || status.code === SpanStatusCode.UNSET || this.status.code === SpanStatusCode.OK) return;
    this.status = status.code === SpanStatusCode.ERROR && typeof status.message === 'string' ? { code: status.code, message: status.message } : { code: status.code };
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.duration = millisToHrTime(performance.now() - this.startPerf);
    this.endTime = addHrTimes(this.startTime, this.duration);
    this.sink.emit(this);
  }

  private now(): HrTime {
    return addHrTimes(this.startTime, millisToHrTime(performance.now() - this.startPerf));
  }
}

/** Stage spans built here and handed to `sink` when they end (see the top of this file). */
export function directStageSpans(sink: StageSpanSink): StartStageSpan {
  return (name, attributes, parent) => {
    const p = trace.getSpanContext(parent);
    if (p === undefined || (p.traceFlags & 1) === 0 || !trace.isSpanContextValid(p)) return NOT_RECORDED;
    return new DirectStageSpan(sink, name, attributes, p);
  };
}
