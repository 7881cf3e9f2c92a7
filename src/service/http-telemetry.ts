// The server span and the HTTP metrics, from Fastify hooks: one span per request with the stable HTTP semantic
// convention attributes. Why not @opentelemetry/instrumentation-http + @fastify/otel: they stack two server spans
// and, as measured for issue 5 on this machine class, cost about 40 us + 17 us of CPU per request; these hooks do
// the same job once (our whole server span, attributes and HTTP metrics included, is in docs/PERFORMANCE.md).
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';
import { RandomIdGenerator } from '@opentelemetry/sdk-trace';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { requestLogger } from '../telemetry/logger.ts';
import type { StartServerSpan } from '../telemetry/direct-spans.ts';
import { activeRequests, httpRequests, httpServerRequestDuration, tracer } from '../telemetry/catalogue.ts';

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
// With the SDK disabled, the request id comes from the SDK's own id generator (Math.random, as for trace ids):
// crypto.randomBytes(16) cost about 2 us a call against 0.12-0.16 us for this (300,000 calls each, by hand), and
// was 7.7 % of the disabled service's CPU samples at saturation (randomFillSync + randomBytes, --cpu-prof, by hand).
const requestIds = new RandomIdGenerator();

/** Runs `fn` inside the request's trace context so child spans and log lines attach to the server span. */
export function inRequestContext<T>(request: FastifyRequest, fn: () => T): T {
  return context.with(request.otel.ctx, fn);
}

/** The server span through the SDK's tracer (the API's no-op when the SDK is disabled). */
const sdkServerSpan: StartServerSpan = (name, attributes, parent) => tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);

function startRequest(request: FastifyRequest, reply: FastifyReply, startSpan: StartServerSpan): void {
  const startMs = performance.now();
  const parent = propagation.extract(ROOT_CONTEXT, request.headers);
  const method = request.method;
  const route = request.routeOptions.url;
  const attributes: Attributes = {
    'http.request.method': method,
    'url.path': request.url.split('?', 1)[0],
    'url.scheme': request.protocol,
    'network.protocol.version': request.raw.httpVersion,
  };
  if (route !== undefined) attributes['http.route'] = route;
  const userAgent = request.headers['user-agent'];
  if (userAgent !== undefined) attributes['user_agent.original'] = userAgent;
  // The semantic conventions name a server span "{method} {route}", or just "{method}" when no route matched.
  const span = startSpan(route === undefined ? method : `${method} ${route}`, attributes, parent);
  const sc = span.spanContext();
  let traceId = sc.traceId;
  if (traceId === INVALID_TRACE_ID) traceId = requestIds.generateTraceId();
  if (!activeRequests.add(method, 1)) activeRequests.create(method, { 'http.request.method': method, 'url.scheme': request.protocol }, 1);
  request.otel = { span, ctx: trace.setSpan(parent, span), traceId, startMs, ended: false };
  // The request's logger, made here rather than by Fastify (app.ts) so that the span's ids are bound into it.
  request.log = reply.log = requestLogger(request.log as Logger, request.id, sc);
  // W3C Trace Context Level 2 response header: the caller learns the trace id of every answer, errors included.
  reply.header('traceresponse', `00-${traceId}-${sc.spanId}-0${sc.traceFlags & 1}`);
}

function endRequest(request: FastifyRequest, statusCode: number, aborted: boolean): void {
  const t = request.otel;
  if (t === undefined || t.ended) return;
  t.ended = true;
  const durationMs = performance.now() - t.startMs;
  const method = request.method;
  const route = request.routeOptions.url;
  t.span.setAttribute('http.response.status_code', statusCode);
  if (aborted) {
    t.span.setAttribute('error.type', 'aborted');
    t.span.setStatus({ code: SpanStatusCode.ERROR, message: 'client closed the connection before the response' });
  } else if (statusCode >= 500) {
    // The semantic conventions: 5xx is an error on a server span, 4xx is not (it is the client's).
    t.span.setAttribute('error.type', String(statusCode));
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
    'http.request.method': method,
    'http.response.status_code': statusCode,
    'url.scheme': scheme,
  };
  if (route !== undefined) durationAttrs['http.route'] = route;
  if (statusCode >= 500) durationAttrs['error.type'] = String(statusCode);
  httpServerRequestDuration.create(durationKey, durationAttrs, seconds);
}

/**
 * Adds the server span and HTTP metrics to every request of `app` (404s included). `startSpan`: the direct server
 * spans of direct-spans.ts, or by default the SDK's tracer.
 */
export function instrumentHttp(app: FastifyInstance, startSpan: StartServerSpan = sdkServerSpan): void {
  app.decorateRequest('otel', undefined as unknown as RequestTelemetry);
  app.addHook('onRequest', (request, reply, done) => {
    startRequest(request, reply, startSpan);
    done();
  });
  // Body parsing loses the async context, so the handler is entered inside the request's context here.
  app.addHook('preHandler', (request, _reply, done) => {
    context.with(request.otel.ctx, done);
  });
  // ...and left again to write the response. Everything Node creates while writing it captures the active
  // context, among them the connection's keep-alive timer, which lives until the connection's next request: inside
  // the request's context it kept that request's spans alive for as long (a heap snapshot at 1,000 req/s: every
  // SpanImpl left was held by a socket's Timeout), often long enough to be promoted to the old generation
  // (docs/PERFORMANCE.md, P4). test/span-lifetime.test.ts holds it.
  app.addHook('onSend', (_request, _reply, payload, done) => {
    context.with(ROOT_CONTEXT, done, undefined, null, payload);
  });
  app.addHook('onResponse', (request, reply, done) => {
    endRequest(request, reply.statusCode, false);
    done();
  });
  app.addHook('onRequestAbort', (request, done) => {
    endRequest(request, 499, true);
    done();
  });
}
