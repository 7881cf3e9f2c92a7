// pino JSON logs. Every line of a request (request.log) carries trace_id and span_id, bound once into the request's
// child logger (requestLogger); any other line written inside a trace context gets them from a pino mixin, as in
// the OpenTelemetry demo. With log export on, each line is also emitted as an OpenTelemetry LogRecord
// in the same context, so the Collector correlates it with the span: through the Logs API, or, with
// EXPORT_PIPELINE=eager, handed straight to the eager exporter (`direct`).
import { context, isSpanContextValid, logs, SeverityNumber, trace, type AnyValue, type Attributes, type SpanContext } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import pino, { type Logger, type LoggerOptions } from 'pino';
import { SCOPE_NAME, SCOPE_VERSION } from './scope.ts';

const SEVERITY: Record<number, [SeverityNumber, string]> = {
  10: [SeverityNumber.TRACE, 'TRACE'],
  20: [SeverityNumber.DEBUG, 'DEBUG'],
  30: [SeverityNumber.INFO, 'INFO'],
  40: [SeverityNumber.WARN, 'WARN'],
  50: [SeverityNumber.ERROR, 'ERROR'],
  60: [SeverityNumber.FATAL, 'FATAL'],
};

function toAttributes(fields: Record<string, unknown>): Attributes {
  const out: Attributes = {};
  for (const key in fields) {
    const value = fields[key];
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[key] = value;
    else if (value instanceof Error) {
      out['exception.type'] = value.name;
      out['exception.message'] = value.message;
    } else if (value !== undefined && value !== null) out[key] = JSON.stringify(value);
  }
  return out;
}

export interface LoggerSettings {
  level: string;
  /** Emit every line as an OpenTelemetry LogRecord too (OTEL_LOGS_EXPORTER != none and the SDK enabled). */
  exportLogs: boolean;
  /** Where lines go; stdout by default (tests pass a stream). */
  destination?: pino.DestinationStream;
  /**
   * Instead of the Logs API: each record, with the fields the SDK's Logger would give it, goes to this function
   * (the eager exporter's batcher), tagged with `resource` and `scope`. The SDK's Logger builds a LogRecordImpl per
   * line (time conversions, attribute validation, a read-only wrapper) that the eager exporter encodes and drops
   * at once; this skips it. What that costs, measured with `npm run bench:logger` (docs/PERFORMANCE.md): exporting
   * a line adds 0.76-0.91 us of CPU to pino this way, 1.27-1.42 us through the SDK's Logger. Only for record
   * processors that read the fields (not the SDK's batch processors).
   */
  direct?: { emit(record: ReadableLogRecord): void; resource: ReadableLogRecord['resource']; scope: ReadableLogRecord['instrumentationScope'] };
}

// Lines logged without fields share one attribute object (the encoder only reads it).
const NO_ATTRIBUTES: Attributes = Object.freeze({});

// On a request's child logger: the span context its lines belong to (already checked valid).
const SPAN_CONTEXT = Symbol('inference-service.spanContext');
type RequestLogger = Logger & { [SPAN_CONTEXT]?: SpanContext };

/** The active span's context, when valid. */
function activeSpanContext(): SpanContext | undefined {
  const active = trace.getSpanContext(context.active());
  return active !== undefined && isSpanContextValid(active) ? active : undefined;
}

/**
 * A request's logger: a child of `parent` (the service's logger) with the request id and, for a valid span context,
 * trace_id and span_id bound into it. pino serialises bindings once, at child(); the mixin would look up the
 * active span and merge two fields into every line (its result is merged with Object.assign), so the child goes
 * without it (an own property over pino's public `symbols.mixinSym`), and its OTLP records take the bound span
 * context instead of looking it up. Fastify's own per-request child is not made (app.ts, childLoggerFactory):
 * one child per request, as before. Measured against the mixin, by hand (10 s at saturation, six interleaved pairs,
 * docs/PERFORMANCE.md): medians 93.2 -> 90.7 us of CPU per request for the whole service.
 */
export function requestLogger(parent: Logger, reqId: string, spanContext: SpanContext | undefined): Logger {
  if (spanContext === undefined || !isSpanContextValid(spanContext)) return parent.child({ reqId });
  const child = parent.child({ reqId, trace_id: spanContext.traceId, span_id: spanContext.spanId }) as RequestLogger;
  (child as unknown as Record<symbol, unknown>)[pino.symbols.mixinSym] = undefined;
  child[SPAN_CONTEXT] = spanContext;
  return child;
}

/** The record the SDK's Logger.emit would build for one line, as a plain object. */
function directRecord(direct: NonNullable<LoggerSettings['direct']>, spanContext: SpanContext | undefined, severityNumber: SeverityNumber, severityText: string, body: unknown, attributes: Attributes | undefined): ReadableLogRecord {
  const time = millisToHrTime(Date.now());
  return {
    hrTime: time,
    hrTimeObserved: time,
    spanContext,
    severityNumber,
    severityText,
    body: body as AnyValue,
    attributes: attributes ?? NO_ATTRIBUTES,
    droppedAttributesCount: 0,
    resource: direct.resource,
    instrumentationScope: direct.scope,
  };
}

export function createLogger(settings: LoggerSettings): Logger {
  const otelLogger = logs.getLogger(SCOPE_NAME, SCOPE_VERSION);
  const direct = settings.direct;
  const options: LoggerOptions = {
    level: settings.level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin() {
      const span = trace.getActiveSpan();
      if (span === undefined) return {};
      const sc = span.spanContext();
      return { trace_id: sc.traceId, span_id: sc.spanId };
    },
  };
  if (settings.exportLogs) {
    options.hooks = {
      logMethod(args, method, level) {
        const [first, second] = args as unknown[];
        const fields = typeof first === 'object' && first !== null ? (first as Record<string, unknown>) : undefined;
        const body = fields === undefined ? first : second ?? (first instanceof Error ? first.message : undefined);
        const [severityNumber, severityText] = SEVERITY[level] ?? [SeverityNumber.UNSPECIFIED, String(level)];
        const attributes = fields === undefined ? undefined : toAttributes(fields);
        const bound = (this as RequestLogger)[SPAN_CONTEXT];
        if (direct !== undefined) direct.emit(directRecord(direct, bound ?? activeSpanContext(), severityNumber, severityText, body, attributes));
        else otelLogger.emit({
          severityNumber,
          severityText,
          body: body as AnyValue,
          attributes,
          // A request's line belongs to its span even when logged outside the request's context.
          context: bound !== undefined ? trace.setSpanContext(context.active(), bound) : context.active(),
        });
        method.apply(this, args as Parameters<typeof method>);
      },
    };
  }
  // Asynchronous but unbuffered: a line is visible (kubectl logs, tests waiting for start-up) as soon as it is
  // written. A 4 KiB write buffer measured no faster at saturation and delayed lines indefinitely when idle.
  return pino(options, settings.destination ?? pino.destination({ sync: false }));
}
