// `node scripts/bench-spans.ts [--requests 200000] [--rounds 5]`: what a /predict request's spans cost, measured in
// one process, rounds interleaved: the server span (six start attributes, the status code set at the end) and the
// model pipeline's three stage spans under it, each through the SDK's Tracer (what the service does with
// EXPORT_PIPELINE=sdk or when a span-limit variable is set) and built by src/telemetry/direct-spans.ts (the default with the
// eager pipeline). Every path ends in the same place, the span encoded to OTLP protobuf by writeSpan into a reused
// buffer (no network). Prints CPU microseconds per request (median and min-max over the rounds). Run it pinned and
// with the service's V8 flags to compare with docs/PERFORMANCE.md:
// `taskset -c 0 node --max-semi-space-size=8 scripts/bench-spans.ts`.
import { parseArgs } from 'node:util';
import { ROOT_CONTEXT, SpanKind, trace, type Attributes, type Context } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ParentBasedSampler, AlwaysOnSampler, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { ProtoWriter, writeSpan } from '../src/telemetry/otlp-encode.ts';
import { SCOPE } from '../src/telemetry/catalogue.ts';
import { directServerSpans, directStageSpans, type StartServerSpan, type StartStageSpan } from '../src/telemetry/direct-spans.ts';
import { cpuUsPer, interleaved, median, spread } from './microbench.ts';

const { values: flags } = parseArgs({ options: { requests: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '5' } } });
const REQUESTS = Number(flags.requests);
const ROUNDS = Number(flags.rounds);
if (!(REQUESTS > 0 && ROUNDS > 0)) throw new Error('--requests and --rounds must be positive numbers');

const writer = new ProtoWriter(1 << 20);
const encode = (span: ReadableSpan): void => {
  if (writer.pos > 900_000) writer.pos = 0;
  writeSpan(writer, span);
};
const resource = resourceFromAttributes({ 'service.name': 'bench' });
const sampler = new ParentBasedSampler({ root: new AlwaysOnSampler() });
const tracer = new TracerProvider({ resource, sampler, spanProcessors: [{ onStart() {}, onEnd: encode, forceFlush: async () => {}, shutdown: async () => {} }] }).getTracer(SCOPE.name, SCOPE.version);
const sink = { emit: encode, resource, scope: SCOPE };
const server = tracer.startSpan('POST /predict', { kind: SpanKind.SERVER });
const parent = trace.setSpan(ROOT_CONTEXT, server);

type Round = () => number;
/** The server span of a /predict request (http-telemetry.ts): attributes built per request, status code at the end. */
const serverRound = (start: StartServerSpan): Round => () =>
  cpuUsPer(REQUESTS, () => {
    for (let i = 0; i < REQUESTS; i++) {
      const attributes: Attributes = {
        'http.request.method': 'POST',
        'url.path': '/predict',
        'url.scheme': 'http',
        'network.protocol.version': '1.1',
        'http.route': '/predict',
        'user_agent.original': 'loadgen/1.0',
      };
      const span = start('POST /predict', attributes, ROOT_CONTEXT);
      span.setAttribute('http.response.status_code', 200);
      span.end();
    }
  });
/** The three stage spans of a /predict request (model.ts). */
const stageRound = (start: StartStageSpan, p: Context): Round => () => {
  const attrs = { 'model.name': 'linear-demo', 'model.batch_size': 1, 'model.feature_count': 3 };
  return cpuUsPer(REQUESTS, () => {
    for (let i = 0; i < REQUESTS; i++) {
      start('preprocess', attrs, p).end();
      start('inference', { ...attrs, 'model.simulated_latency_ms': 0 }, p).end();
      start('postprocess', attrs, p).end();
    }
  });
};

const SDK = "SDK's Tracer";
const DIRECT = 'direct-spans.ts';
const paths: Record<string, Round> = {
  [`server span, ${SDK}`]: serverRound((name, attributes, p) => tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, p)),
  [`server span, ${DIRECT}`]: serverRound(directServerSpans(sink, sampler)),
  [`stage spans, ${SDK}`]: stageRound((name, attributes, p) => tracer.startSpan(name, { attributes }, p), parent),
  [`stage spans, ${DIRECT}`]: stageRound(directStageSpans(sink), parent),
};

const results = interleaved(paths, ROUNDS, (round) => round());
console.log(`${REQUESTS} requests per round (1 server span or 3 stage spans each, encoded), ${ROUNDS} rounds, node ${process.version}`);
console.log('| spans, path | CPU us/request median (min-max) |');
console.log('|---|---|');
for (const [name, xs] of Object.entries(results)) console.log(`| ${name} | ${spread(xs)} |`);
for (const kind of ['server span', 'stage spans']) {
  const sdk = median(results[`${kind}, ${SDK}`]!);
  const direct = median(results[`${kind}, ${DIRECT}`]!);
  console.log(`${kind} per request: ${DIRECT} ${direct.toFixed(2)} us vs ${SDK} ${sdk.toFixed(2)} us (saves ${(sdk - direct).toFixed(2)} us, ${(direct / sdk).toFixed(2)}x)`);
}
