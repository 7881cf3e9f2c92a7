// A request's spans must not outlive the request. Node captures the active async context in everything it creates
// (timers, write requests), and the connection's keep-alive timer, created while the response is written, lives
// until the connection's next request: written inside the request's context, it kept that request's spans alive
// for as long (at 1,000 req/s, often long enough to be promoted to the old generation; docs/PERFORMANCE.md, "Fast paths").
// Here: real SDK context manager and tracer, a real server on port 0, a kept-alive connection left idle, and
// weak references to every span, which a full GC must clear.
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { test } from 'node:test';
import { Writable } from 'node:stream';
import { TracerProvider, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { buildApp } from '../../src/service/app.ts';
import { parseConfig } from '../../src/shared/config.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { appDeps } from '../helpers/app-deps.ts';
import { useGlobalTracing } from '../helpers/global-tracing.ts';
import { tracerSpans } from '../../src/telemetry/catalogue.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as (options?: { type: 'major'; execution: 'async' }) => Promise<void>;

const ended: WeakRef<ReadableSpan>[] = [];
const keep: SpanProcessor = {
  onStart: () => {},
  onEnd: (span) => void ended.push(new WeakRef(span)),
  forceFlush: async () => {},
  shutdown: async () => {},
};
const provider = new TracerProvider({ spanProcessors: [keep] });

useGlobalTracing(provider);

test('the spans of a request on a kept-alive connection are collectable once it is answered', async () => {
  const config = parseConfig({ DEFAULT_LATENCY_MS: '0' }, '1.2.3');
  const silent = new Writable({ write: (_c, _e, cb) => cb() });
  const { app, lifecycle } = buildApp(config, appDeps({
    logger: createLogger({ level: 'info', exportLogs: false, destination: silent }),
    spans: tracerSpans(provider.getTracer('span-lifetime')),
  }));
  lifecycle.ready = true;
  await app.listen({ host: '127.0.0.1', port: 0 });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const { port } = app.server.address() as { port: number };
    const post = (path: string, body: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end(body);
      });
    assert.equal(await post('/predict', '{"features":[0.5,1.5,2.0]}'), 200);
    assert.equal(await post('/predict', '{"features":"abc"}'), 422);
    // A server span and its child spans per answered request.
    assert.ok(ended.length >= 4, `${ended.length} spans ended`);
    // The connection stays open and idle (the agent keeps it); only its keep-alive timer refers to anything now.
    await new Promise((r) => setTimeout(r, 50));
    await gc({ type: 'major', execution: 'async' });
    await gc({ type: 'major', execution: 'async' });
    const alive = ended.map((r) => r.deref()).filter((s) => s !== undefined);
    assert.deepEqual(alive.map((s) => s.name), [], 'spans still reachable after the responses');
  } finally {
    agent.destroy();
    await app.close();
  }
});
