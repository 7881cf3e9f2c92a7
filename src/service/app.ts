// buildApp(config, deps) returns the Fastify app with every route; only main.ts binds a port. Tests drive it with
// inject() or listen on port 0.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { SpanStatusCode } from '@opentelemetry/api';
import type { Config } from '../shared/config.ts';
import { Admission } from './admission.ts';
import { AppError, toAppError } from './errors.ts';
import { inRequestContext, instrumentHttp } from './http-telemetry.ts';
import { assertFinitePredictions, parseBatchBody, parsePredictBody, predict } from './model.ts';
import { ATTR, type Instruments, type SpanStarter } from '../telemetry/catalogue.ts';
import type { TelemetryStatus } from '../telemetry/sdk.ts';

export interface AppDeps {
  readonly logger: Logger;
  readonly telemetry: TelemetryStatus;
  /** Starts the server span and the model's stage spans (the SDK's Tracer, or the direct spans). */
  readonly spans: SpanStarter;
  readonly instruments: Instruments;
}

/** Mutable lifecycle state, set by main.ts on SIGTERM. */
export interface Lifecycle {
  /** What /readyz reports: false before listen and from SIGTERM on. */
  ready: boolean;
  /** Draining: every answer carries `Connection: close`, so kept-alive clients take their next request elsewhere. */
  closing: boolean;
  /** Date.now() from which a request that still arrives while closing gets 503 ERR_SHUTTING_DOWN. */
  deadline: number;
}

const predictionSchema = {
  type: 'object',
  properties: {
    prediction: { type: 'number' },
    model_name: { type: 'string' },
    latency_ms: { type: 'number' },
    trace_id: { type: 'string' },
  },
} as const;

const batchSchema = {
  type: 'object',
  properties: {
    predictions: { type: 'array', items: { type: 'number' } },
    model_name: { type: 'string' },
    batch_size: { type: 'integer' },
    latency_ms: { type: 'number' },
    trace_id: { type: 'string' },
  },
} as const;

const round3 = (ms: number) => Math.round(ms * 1000) / 1000;

export function buildApp(config: Config, deps: AppDeps): { app: FastifyInstance; lifecycle: Lifecycle; admission: Admission } {
  const lifecycle: Lifecycle = { ready: false, closing: false, deadline: Number.POSITIVE_INFINITY };
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // No child logger per request from Fastify: the onRequest hook of http-telemetry.ts makes it, with the request
    // id and the server span's ids bound (logger.ts, requestLogger). Route options that set a level or serializers
    // (none here) still get a child for them, without the request id (which requestLogger adds).
    childLoggerFactory: (logger, _bindings, options) => (options.level === undefined && options.serializers === undefined ? logger : logger.child({}, options)),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimit,
    // Reject `__proto__` and `constructor.prototype` keys instead of silently keeping them.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Fastify would answer 503 to requests arriving on a kept-alive connection once close() has begun; they are
    // served (with `Connection: close`) until the shutdown deadline instead, and get our 503 past it (below).
    return503OnClosing: false,
    // Slow clients (slowloris): Node answers 408 and closes when a whole request has not arrived in time.
    // Fastify's handlerTimeout is not used: it costs an AbortController, a timer and a listener per request,
    // and our handlers are bounded already (simulated latency, bounded model queue).
    requestTimeout: config.requestTimeoutMs,
    http: { maxHeaderSize: config.maxHeaderBytes, connectionsCheckingInterval: Math.max(100, Math.min(config.requestTimeoutMs || 30_000, 30_000) / 4) },
  });
  const admission = new Admission(config.model.concurrency, config.model.maxQueue);
  const overloadedAttrs = { reason: 'overloaded' };
  const model = config.model;
  const endpointAttrs = {
    predict: { [ATTR.modelName]: model.name, endpoint: '/predict' },
    batch: { [ATTR.modelName]: model.name, endpoint: '/predict/batch' },
  };

  /** Runs `work` for `rows` predictions once the model has a free slot; refuses at once when the queue is full. */
  async function admitted<T>(rows: number, work: () => Promise<T>): Promise<T> {
    let outcome = 'rejected';
    try {
      const wait = admission.acquire();
      outcome = 'error';
      if (wait !== undefined) await wait;
      try {
        const result = await work();
        outcome = 'success';
        return result;
      } finally {
        admission.release();
      }
    } finally {
      // predictions_by_model: the outcome as the key (the model name is the same for the whole process).
      if (!predictionsByModel.add(outcome, rows)) predictionsByModel.create(outcome, { [ATTR.modelName]: model.name, outcome }, rows);
    }
  }

  const { predictionLatencyMs, predictions, requestsRejected, predictionsByModel } = deps.instruments;
  deps.instruments.modelQueue.watch(() => admission);
  instrumentHttp(app, deps.spans, deps.instruments);
  app.addHook('onRequest', (_request, reply, done) => {
    if (!lifecycle.closing) return done();
    // Answered, then the connection closes: the client's next request opens a connection to another pod.
    reply.header('connection', 'close');
    if (Date.now() < lifecycle.deadline) return done();
    done(new AppError('ERR_SHUTTING_DOWN'));
  });
  // JSON only: without this, Fastify's default text/plain parser would hand a string to the validator (422)
  // where the truthful answer is 415.
  app.removeContentTypeParser('text/plain');

  app.setErrorHandler((err, request, reply) => {
    const appError = toAppError(err);
    const span = request.otel?.span;
    span?.setAttribute(ATTR.errorCode, appError.code);
    if (appError.statusCode >= 500) {
      span?.recordException(err as Error);
      span?.setStatus({ code: SpanStatusCode.ERROR, message: appError.code });
      inRequestContext(request, () => request.log.error({ err, code: appError.code }, 'Request failed'));
    } else {
      inRequestContext(request, () =>
        request.log.info({ code: appError.code, status: appError.statusCode, detail: appError.detail }, 'Request rejected'),
      );
    }
    if (appError.code === 'ERR_OVERLOADED') requestsRejected.add(1, overloadedAttrs);
    if (appError.statusCode === 503) reply.header('retry-after', '1');
    return reply
      .code(appError.statusCode)
      .header('content-type', 'application/json; charset=utf-8')
      .send({ detail: appError.detail, code: appError.code, trace_id: request.otel?.traceId });
  });

  app.setNotFoundHandler(async () => {
    throw new AppError('ERR_NOT_FOUND');
  });

  app.get('/health', async () => ({
    status: lifecycle.ready ? 'ok' : 'draining',
    env: config.appEnv,
    tracing_enabled: deps.telemetry.tracingEnabled,
    metrics_enabled: deps.telemetry.metricsEnabled,
    logs_enabled: deps.telemetry.logsEnabled,
    collector_endpoint: config.telemetry.collectorEndpoint,
    exports: deps.telemetry.routes,
    service_name: config.telemetry.serviceName,
    model_name: model.name,
    version: config.version,
    model_queue: { in_flight: admission.inFlight, queued: admission.queued, rejected: admission.rejected },
    telemetry: deps.telemetry.stats(),
  }));

  app.get('/livez', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    if (!lifecycle.ready) return reply.code(503).send({ status: 'draining' });
    return { status: 'ready' };
  });

  app.post('/predict', { schema: { response: { 200: predictionSchema } } }, async (request) => {
    const row = parsePredictBody(request.body, model);
    request.log.info('Prediction request received');
    const result = await admitted(1, async () => {
      const r = await predict([row], model, deps.spans);
      assertFinitePredictions(r.predictions, () => ['features']);
      return r;
    });
    if (!predictionLatencyMs.record('/predict', result.latencyMs)) predictionLatencyMs.create('/predict', endpointAttrs.predict, result.latencyMs);
    if (!predictions.add('/predict', 1)) predictions.create('/predict', endpointAttrs.predict, 1);
    const latency = round3(result.latencyMs);
    request.log.info({ latency_ms: latency }, `Prediction completed - latency: ${Math.round(latency)}ms`);
    return { prediction: result.predictions[0], model_name: model.name, latency_ms: latency, trace_id: request.otel.traceId };
  });

  app.post('/predict/batch', { schema: { response: { 200: batchSchema } } }, async (request) => {
    const rows = parseBatchBody(request.body, model);
    request.log.info({ batch_size: rows.length }, 'Batch prediction request received');
    const result = await admitted(rows.length, async () => {
      const r = await predict(rows, model, deps.spans);
      assertFinitePredictions(r.predictions, (i) => ['instances', i]);
      return r;
    });
    if (!predictionLatencyMs.record('/predict/batch', result.latencyMs)) predictionLatencyMs.create('/predict/batch', endpointAttrs.batch, result.latencyMs);
    if (!predictions.add('/predict/batch', rows.length)) predictions.create('/predict/batch', endpointAttrs.batch, rows.length);
    const latency = round3(result.latencyMs);
    request.log.info({ latency_ms: latency, batch_size: rows.length }, `Batch prediction completed - latency: ${Math.round(latency)}ms`);
    return {
      predictions: result.predictions,
      model_name: model.name,
      batch_size: rows.length,
      latency_ms: latency,
      trace_id: request.otel.traceId,
    };
  });

  // A route that exists but not for this method answers 405 rather than 404.
  for (const url of ['/predict', '/predict/batch']) {
    app.route({
      method: ['GET', 'PUT', 'DELETE', 'PATCH'],
      url,
      handler: async () => {
        throw new AppError('ERR_METHOD_NOT_ALLOWED');
      },
    });
  }

  return { app, lifecycle, admission };
}
