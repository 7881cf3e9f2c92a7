// Spans built without the SDK's Tracer and handed straight to the eager exporter when they end: the server span of
// each request and the spans of the model pipeline's stages, as a SpanStarter (catalogue.ts). The export plan
// (plan.ts) uses it only with eager span export and no variable that only the SDK's Tracer honours.
// Why by hand: startSpan does for every span what these do not need (context and suppression checks, attribute
// validation twice over, the SDK's own span metrics, a SpanImpl with its guards); docs/PERFORMANCE.md, "Fast paths",
// gives the saving (`npm run bench:spans`). What this builds is the object the SDK would hand the span processor
// at end(): same ids, clock, sampler call, attribute, event and link rules with the SDK's default limits, same
// exception event; test/telemetry/direct-spans.test.ts compares the encoded spans field by field with the SDK's.
import {
  diag,
  ROOT_CONTEXT,
  SamplingDecision,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type AttributeValue,
  type Exception,
  type HrTime,
  type Link,
  type Span,
  type SpanContext,
  type SpanStatus,
  type TimeInput,
} from '@opentelemetry/api';
import {
  addHrTimes,
  cleanAttributes,
  cleanSimpleAttributes,
  hrTime,
  hrTimeDuration,
  isTimeInput,
  isTimeInputHrTime,
  maybeAddAttribute,
  millisToHrTime,
  AddAttributeDecision,
} from '@opentelemetry/core';
import { RandomIdGenerator, type ReadableSpan, type Sampler, type TimedEvent } from '@opentelemetry/sdk-trace';
import type { SpanStarter } from './catalogue.ts';

export type StartStageSpan = SpanStarter['stage'];
export type StartServerSpan = SpanStarter['server'];
export type StartBatchSpan = SpanStarter['batch'];

/** Where a direct span goes when it ends, with the resource and scope it is tagged with. */
export interface SpanSink {
  emit(span: ReadableSpan): void;
  readonly resource: ReadableSpan['resource'];
  readonly scope: ReadableSpan['instrumentationScope'];
}

// The SDK's default span limits (TracerProvider): any variable that changes them sends spans through the SDK.
const LIMIT = 128;
const LIMITS = { attributeCountLimit: LIMIT, attributeValueLengthLimit: Infinity };
// For a parent that is not sampled: nothing is recorded, as with the SDK's non-recording span. Without any parent
// span nothing is recorded either, where the SDK would start a trace of its own; the app never does that (the
// stages run inside a request, under its server span).
const NOT_RECORDED: Span = trace.wrapSpanContext({ traceId: '00000000000000000000000000000000', spanId: '0000000000000000', traceFlags: TraceFlags.NONE });
const ids = new RandomIdGenerator();
const NO_LINKS: Link[] = [];
const NO_EVENTS: TimedEvent[] = [];
const UNSET: SpanStatus = { code: SpanStatusCode.UNSET };
const ZERO: HrTime = [0, 0];

class DirectSpan implements ReadableSpan, Span {
  readonly kind: SpanKind;
  links = NO_LINKS;
  events = NO_EVENTS;
  status = UNSET;
  name: string;
  readonly startTime: HrTime;
  endTime: HrTime = ZERO;
  duration: HrTime = ZERO;
  ended = false;
  droppedAttributesCount = 0;
  droppedEventsCount = 0;
  droppedLinksCount = 0;
  readonly resource: ReadableSpan['resource'];
  readonly instrumentationScope: ReadableSpan['instrumentationScope'];
  attributes: Attributes;
  /** The attributes object is shared with other spans: copied before the first write. */
  private shared: boolean;
  readonly parentSpanContext: SpanContext | undefined;
  private attributeCount: number;
  private readonly context: SpanContext;
  private readonly startWallMs: number;
  private readonly startPerf: number;
  private readonly sink: SpanSink;

  constructor(sink: SpanSink, name: string, kind: SpanKind, attributes: Attributes, attributeCount: number, context: SpanContext, parent: SpanContext | undefined, shared = false) {
    this.sink = sink;
    this.name = name;
    this.kind = kind;
    this.attributes = attributes;
    this.shared = shared;
    this.attributeCount = attributeCount;
    this.parentSpanContext = parent;
    this.context = context;
    this.resource = sink.resource;
    this.instrumentationScope = sink.scope;
    this.startWallMs = Date.now();
    this.startTime = millisToHrTime(this.startWallMs);
    this.startPerf = performance.now();
  }

  spanContext(): SpanContext {
    return this.context;
  }

  isRecording(): boolean {
    return !this.ended;
  }

  /** As SpanImpl's: undefined is ignored, invalid keys and values are dropped with a warning, 128 at most. */
  setAttribute(key: string, value: AttributeValue): this {
    if (this.ended || value === undefined) return this;
    const t = typeof value;
    if (this.shared) {
      this.attributes = { ...this.attributes };
      this.attributeCount = Object.keys(this.attributes).length;
      this.shared = false;
    }
    if (key.length === 0 || (t !== 'string' && t !== 'number' && t !== 'boolean')) return this.addAttribute(key, value);
    // A primitive (what this service sets): stored as is, as copyAndTruncAnyValue does without a length limit.
    if (!Object.hasOwn(this.attributes, key)) {
      if (this.attributeCount >= LIMIT) return this.dropAttribute();
      this.attributeCount++;
    }
    this.attributes[key] = value;
    return this;
  }

  setAttributes(attributes: Attributes): this {
    for (const key in attributes) if (Object.hasOwn(attributes, key)) this.setAttribute(key, attributes[key]!);
    return this;
  }

  addEvent(name: string, attributesOrStartTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (this.ended) return this;
    if (isTimeInput(attributesOrStartTime)) {
      if (!isTimeInput(time)) time = attributesOrStartTime;
      attributesOrStartTime = undefined;
    }
    if (this.events === NO_EVENTS) this.events = [];
    else if (this.events.length >= LIMIT) {
      this.events.shift();
      this.droppedEventsCount++;
    }
    const { attributes, droppedAttributesCount } = cleanSimpleAttributes(attributesOrStartTime as Attributes | undefined, LIMITS);
    this.events.push({ name, time: this.time(time), attributes, droppedAttributesCount });
    return this;
  }

  addLink(link: Link): this {
    if (this.ended) return this;
    if (this.links === NO_LINKS) this.links = [];
    else if (this.links.length >= LIMIT) {
      this.links.shift();
      this.droppedLinksCount++;
    }
    this.links.push({ context: link.context, ...cleanAttributes(link.attributes, LIMITS) });
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (this.ended || status.code === SpanStatusCode.UNSET || this.status.code === SpanStatusCode.OK) return this;
    this.status = status.code === SpanStatusCode.ERROR && typeof status.message === 'string' ? { code: status.code, message: status.message } : { code: status.code };
    return this;
  }

  updateName(name: string): this {
    if (!this.ended) this.name = name;
    return this;
  }

  /** The SDK's recordException: an "exception" event with the exception's type, message and stack. */
  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes = {};
    if (typeof exception === 'string') attributes['exception.message'] = exception;
    else if (exception) {
      if (exception.code) attributes['exception.type'] = String(exception.code);
      else if (exception.name) attributes['exception.type'] = exception.name;
      if (exception.message) attributes['exception.message'] = exception.message;
      if (exception.stack) attributes['exception.stacktrace'] = exception.stack;
    }
    if (attributes['exception.type'] || attributes['exception.message']) this.addEvent('exception', attributes, time);
    else diag.warn(`Failed to record an exception ${String(exception)}`);
  }

  end(endTime?: TimeInput): void {
    if (this.ended) return;
    this.endTime = this.time(endTime);
    this.duration = hrTimeDuration(this.startTime, this.endTime);
    if (this.duration[0] < 0) {
      diag.warn('Inconsistent start and end time, startTime > endTime. Setting span duration to 0ms.', this.startTime, this.endTime);
      this.endTime = this.startTime;
      this.duration = ZERO;
    }
    this.ended = true;
    if ((this.context.traceFlags & TraceFlags.SAMPLED) !== 0) this.sink.emit(this);
  }

  /** SpanImpl's clock: no input is now (start + performance-clock elapsed); a number at most performance.now() is a performance timestamp. */
  private time(input: TimeInput | undefined): HrTime {
    if (input === undefined) return addHrTimes(this.startTime, millisToHrTime(performance.now() - this.startPerf));
    if (typeof input === 'number') {
      return input <= performance.now() ? hrTime(input + this.startWallMs - (this.startPerf + performance.timeOrigin)) : millisToHrTime(input);
    }
    if (input instanceof Date) return millisToHrTime(input.getTime());
    if (isTimeInputHrTime(input)) return input;
    return this.time(undefined);
  }

  private addAttribute(key: string, value: AttributeValue): this {
    const decision = maybeAddAttribute({ key, value, attributes: this.attributes, limits: LIMITS, currentAttributesCount: this.attributeCount });
    if (decision === AddAttributeDecision.DROP_LIMIT_REACHED) return this.dropAttribute();
    if (decision === AddAttributeDecision.ADD_NEW) this.attributeCount++;
    return this;
  }

  private dropAttribute(): this {
    if (++this.droppedAttributesCount === 1) diag.warn('Dropping extra attributes.');
    return this;
  }
}

/** Stage spans built here and handed to `sink` when they end (see the top of this file). */
export function directStageSpans(sink: SpanSink): StartStageSpan {
  return (name, attributes, parent) => {
    const p = trace.getSpanContext(parent);
    if (p === undefined || (p.traceFlags & TraceFlags.SAMPLED) === 0 || !trace.isSpanContextValid(p)) return NOT_RECORDED;
    const context = { traceId: p.traceId, spanId: ids.generateSpanId(), traceFlags: p.traceFlags, traceState: p.traceState };
    // The attribute object may be shared by several stages (model.ts): copied and counted only if written to.
    return new DirectSpan(sink, name, SpanKind.INTERNAL, attributes, 0, context, p, true);
  };
}

/**
 * Server spans built here, sampled by `sampler` (the SDK's, from OTEL_TRACES_SAMPLER) exactly as the SDK's
 * Tracer.startSpan does: the parent's trace or a new one, the sampler's decision, trace state and extra attributes.
 */
export function directServerSpans(sink: SpanSink, sampler: Sampler): StartServerSpan {
  return (name, attributes, parent) => {
    const p = trace.getSpanContext(parent);
    const valid = p !== undefined && trace.isSpanContextValid(p) ? p : undefined;
    const traceId = valid?.traceId ?? ids.generateTraceId();
    const spanId = ids.generateSpanId();
    const result = sampler.shouldSample(parent, traceId, name, SpanKind.SERVER, attributes, NO_LINKS);
    const context: SpanContext = {
      traceId,
      spanId,
      traceFlags: result.decision === SamplingDecision.RECORD_AND_SAMPLED ? TraceFlags.SAMPLED : TraceFlags.NONE,
      traceState: result.traceState ?? valid?.traceState,
    };
    if (result.decision === SamplingDecision.NOT_RECORD) return trace.wrapSpanContext(context);
    let count = 0;
    for (const key in attributes) {
      if (attributes[key] === undefined) delete attributes[key];
      else count++;
    }
    const span = new DirectSpan(sink, name, SpanKind.SERVER, attributes, count, context, valid);
    if (result.attributes !== undefined) span.setAttributes(result.attributes);
    return span;
  };
}

/**
 * Batch spans built here: internal root spans with links, sampled by `sampler` as the SDK's Tracer samples a span
 * started with `root: true` (no parent, the links passed to the sampler and kept on the span).
 */
export function directBatchSpans(sink: SpanSink, sampler: Sampler): StartBatchSpan {
  return (name, attributes, links) => {
    const traceId = ids.generateTraceId();
    const result = sampler.shouldSample(ROOT_CONTEXT, traceId, name, SpanKind.INTERNAL, attributes, links);
    const context: SpanContext = {
      traceId,
      spanId: ids.generateSpanId(),
      traceFlags: result.decision === SamplingDecision.RECORD_AND_SAMPLED ? TraceFlags.SAMPLED : TraceFlags.NONE,
      traceState: result.traceState,
    };
    if (result.decision === SamplingDecision.NOT_RECORD) return trace.wrapSpanContext(context);
    let count = 0;
    for (const key in attributes) {
      if (attributes[key] === undefined) delete attributes[key];
      else count++;
    }
    const span = new DirectSpan(sink, name, SpanKind.INTERNAL, attributes, count, context, undefined);
    if (result.attributes !== undefined) span.setAttributes(result.attributes);
    span.addLinks(links);
    return span;
  };
}

/** The service's spans built here (see the top of this file), sampled by `sampler` as the SDK's Tracer would. */
export function directSpans(sink: SpanSink, sampler: Sampler): SpanStarter {
  return { server: directServerSpans(sink, sampler), stage: directStageSpans(sink), batch: directBatchSpans(sink, sampler) };
}
