// The server span and the HTTP metrics, from Fastify hooks: one span per request with the stable HTTP semantic
// convention attributes. Why not @opentelemetry/instrumentation-http + @fastify/otel: they stack two server spans
// and cost more CPU per request than these hooks, which do the same job once (docs/PERFORMANCE.md, "Fast paths").
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { requestLogger } from '../telemetry/logger.ts';
import { ATTR, type Instruments, type SpanStarter } from '../telemetry/catalogue.ts';

export interface RequestTelemetry {
  readonly span: Span;
  readonly ctx: Context;
  /** 32 lowercase hex: the span's trace id, or a random one when the SDK is disabled (still a unique request id). */
  readonly traceId: string;
  readonly startMs: number;
  ended: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    otel: RequestTelemetry;
  }
}

const INVALID_TRACE_ID = '00000000000000000000000000000000';
/** A request id when no trace id exists (SDK disabled, or a non-recording span): Math.random, as the SDK's ids are. */
function randomTraceId(): string {
  let id = '';
  for (let i = 0; i < 4; i++) id += ((Math.random() * 2 ** 32) >>> 0).toString(16).padStart(8, '0');
  return id;
}

/** Runs `fn` inside the request's trace context so child spans and log lines attach to the server span. */
export function inRequestContext<T>(request: FastifyRequest, fn: () => T): T {
  return context.with(request.otel.ctx, fn);
}

function startRequest(request: FastifyRequest, reply: FastifyReply, spans: SpanStarter, { activeRequests }: Instruments): void {
  const startMs = performance.now();
  const parent = propagation.extract(ROOT_CONTEXT, request.headers);
  const method = request.method;
  const route = request.routeOptions.url;
  const attributes: Attributes = {
    [ATTR.httpRequestMethod]: method,
    [ATTR.urlPath]: request.url.split('?', 1)[0],
    [ATTR.urlScheme]: request.protocol,
    [ATTR.networkProtocolVersion]: request.raw.httpVersion,
  };
  if (route !== undefined) attributes[ATTR.httpRoute] = route;
  const userAgent = request.headers['user-agent'];
  if (userAgent !== undefined) attributes[ATTR.userAgentOriginal] = userAgent;
  // The semantic conventions name a server span "{method} {route}", or just "{method}" when no route matched.
  const span = spans.server(route === undefined ? method : `${method} ${route}`, attributes, parent);
  const sc = span.spanContext();
  let traceId = sc.traceId;
  if (traceId === INVALID_TRACE_ID) traceId = randomTraceId();
  if (!activeRequests.add(method, 1)) activeRequests.create(method, { [ATTR.httpRequestMethod]: method, [ATTR.urlScheme]: request.protocol }, 1);
  request.otel = { span, ctx: trace.setSpan(parent, span), traceId, startMs, ended: false };
  // The request's logger, made here rather than by Fastify (app.ts) so that the span's ids are bound into it.
  request.log = reply.log = requestLogger(request.log as Logger, request.id, sc);
  // W3C Trace Context Level 2 response header: the caller learns the trace id of every answer, errors included.
  reply.header('traceresponse', `00-${traceId}-${sc.spanId}-0${sc.traceFlags & 1}`);
}

function endRequest(request: FastifyRequest, statusCode: number, aborted: boolean, { activeRequests, httpRequests, httpServerRequestDuration }: Instruments): void {
  const t = request.otel;
  if (t === undefined || t.ended) return;
  t.ended = true;
  const durationMs = performance.now() - t.startMs;
  const method = request.method;
  const route = request.routeOptions.url;
  t.span.setAttribute(ATTR.httpResponseStatusCode, statusCode);
  if (aborted) {
    t.span.setAttribute(ATTR.errorType, 'aborted');
    t.span.setStatus({ code: SpanStatusCode.ERROR, message: 'client closed the connection before the response' });
  } else if (statusCode >= 500) {
    // The semantic conventions: 5xx is an error on a server span, 4xx is not (it is the client's).
    t.span.setAttribute(ATTR.errorType, String(statusCode));
    t.span.setStatus({ code: SpanStatusCode.ERROR });
  }
  t.span.end();
  activeRequests.add(method, -1);
  // Route templates only, never raw paths: unmatched requests share one "unmatched" series.
  const endpoint = route ?? 'unmatched';
  const key = `${method} ${endpoint} ${statusCode}`;
  if (!httpRequests.add(key, 1)) httpRequests.create(key, { method, endpoint, status: String(statusCode) }, 1);
  const seconds = durationMs / 1000;
  const scheme = request.protocol;
  const durationKey = `${key} ${scheme}`;
  if (httpServerRequestDuration.record(durationKey, seconds)) return;
  const durationAttrs: Attributes = {
    [ATTR.httpRequestMethod]: method,
    [ATTR.httpResponseStatusCode]: statusCode,
    [ATTR.urlScheme]: scheme,
  };
  if (route !== undefined) durationAttrs[ATTR.httpRoute] = route;
  if (statusCode >= 500) durationAttrs[ATTR.errorType] = String(statusCode);
  httpServerRequestDuration.create(durationKey, durationAttrs, seconds);
}

/**
 * Ends the request's telemetry as aborted (499) now: for a client that went away once its whole request had arrived,
 * which neither onRequestAbort (Node reports no abort then) nor onResponse (no response finishes) would end.
 */
export function endAbortedRequest(request: FastifyRequest, instruments: Instruments): void {
  endRequest(request, 499, true, instruments);
}

/** Adds the server span (from `spans`) and the HTTP metrics to every request of `app` (404s included). */
export function instrumentHttp(app: FastifyInstance, spans: SpanStarter, instruments: Instruments): void {
  app.decorateRequest('otel', undefined as unknown as RequestTelemetry);
  app.addHook('onRequest', (request, reply, done) => {
    startRequest(request, reply, spans, instruments);
    done();
  });
  // Body parsing loses the async context, so the handler is entered inside the request's context here.
  app.addHook('preHandler', (request, _reply, done) => {
    context.with(request.otel.ctx, done);
  });
  // ...and left again to write the response. Everything Node creates while writing it captures the active
  // context, among them the connection's keep-alive timer, which lives until the connection's next request: inside
  // the request's context it kept that request's spans alive for as long, often long enough to be promoted to the
  // old generation. test/service/span-lifetime.test.ts holds it.
  app.addHook('onSend', (_request, _reply, payload, done) => {
    context.with(ROOT_CONTEXT, done, undefined, null, payload);
  });
  app.addHook('onResponse', (request, reply, done) => {
    endRequest(request, reply.statusCode, false, instruments);
    done();
  });
  app.addHook('onRequestAbort', (request, done) => {
    endRequest(request, 499, true, instruments);
    done();
  });
}
