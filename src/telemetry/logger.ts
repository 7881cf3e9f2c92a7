// pino JSON logs. Every line of a request (request.log) carries trace_id and span_id, bound once into the request's
// child logger (requestLogger); any other line written inside a trace context gets them from a pino mixin, as in
// the OpenTelemetry demo. With log export on, each line is also emitted as an OpenTelemetry LogRecord through the
// Logs API, in the span's context, so the Collector correlates it with the span.
import { context, isSpanContextValid, logs, ROOT_CONTEXT, SeverityNumber, trace, type AnyValue, type Attributes, type Context, type LoggerProvider, type SpanContext } from '@opentelemetry/api';
import pino, { type Logger, type LoggerOptions } from 'pino';
import { SCOPE } from './catalogue.ts';

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
  /** Where records go; the global LoggerProvider (the SDK's, once started) by default. */
  provider?: LoggerProvider;
}

// On a request's child logger: a context holding the span its lines belong to (made once per request).
const SPAN_CONTEXT = Symbol('inference-service.spanContext');
type RequestLogger = Logger & { [SPAN_CONTEXT]?: Context };

/**
 * A request's logger: a child of `parent` with the request id and, for a valid span context, trace_id and span_id
 * bound once (pino serialises bindings at child()) instead of the mixin looking up the active span on every line.
 * The child drops the mixin through `pino.symbols.mixinSym`, which pino exports for integrations (docs/api.md,
 * "pino.symbols"); its OTLP records take a context made once with that span. Fastify makes no child of its own (app.ts).
 */
export function requestLogger(parent: Logger, reqId: string, spanContext: SpanContext | undefined): Logger {
  if (spanContext === undefined || !isSpanContextValid(spanContext)) return parent.child({ reqId });
  const child = parent.child({ reqId, trace_id: spanContext.traceId, span_id: spanContext.spanId }) as RequestLogger;
  (child as unknown as Record<symbol, unknown>)[pino.symbols.mixinSym] = undefined;
  child[SPAN_CONTEXT] = trace.setSpanContext(ROOT_CONTEXT, spanContext);
  return child;
}

export function createLogger(settings: LoggerSettings): Logger {
  const otelLogger = (settings.provider ?? logs).getLogger(SCOPE.name, SCOPE.version);
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
        otelLogger.emit({
          severityNumber,
          severityText,
          body: body as AnyValue,
          attributes,
          // A request's line belongs to its span even when logged outside the request's context.
          context: bound ?? context.active(),
        });
        method.apply(this, args as Parameters<typeof method>);
      },
    };
  }
  // Asynchronous but unbuffered: a line is visible (kubectl logs, tests waiting for start-up) as soon as it is
  // written. A 4 KiB write buffer measured no faster at saturation and delayed lines indefinitely when idle.
  return pino(options, settings.destination ?? pino.destination({ sync: false }));
}
