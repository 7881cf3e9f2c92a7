// `node scripts/bench-stage-spans.ts [--requests 200000] [--rounds 5]`: what the model pipeline's three stage spans
// cost per request, measured in one process, rounds interleaved: through the SDK's Tracer (what the service does
// when a span-limit variable is set) and built by src/stage-spans.ts (the default with the eager pipeline). Both
// end in the same place, the span encoded to OTLP protobuf by writeSpan into a reused buffer (no network), under
// a sampled server span, as in a request. Prints CPU microseconds per request (median and min-max over the
// rounds). Run it pinned and with the service's V8 flags to compare with docs/PERFORMANCE.md:
// `taskset -c 0 node --max-semi-space-size=8 scripts/bench-stage-spans.ts`.
import { parseArgs } from 'node:util';
import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { ProtoWriter, writeSpan } from '../src/otlp-encode.ts';
import { SCOPE_NAME, SCOPE_VERSION } from '../src/scope.ts';
import { directStageSpans, type StartStageSpan } from '../src/stage-spans.ts';
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
const tracer = new TracerProvider({ resource, spanProcessors: [{ onStart() {}, onEnd: encode, forceFlush: async () => {}, shutdown: async () => {} }] }).getTracer(SCOPE_NAME, SCOPE_VERSION);
const server = tracer.startSpan('POST /predict', { kind: SpanKind.SERVER });
const parent = trace.setSpan(ROOT_CONTEXT, server);
const paths: Record<string, StartStageSpan> = {
  "SDK's Tracer": (name, attributes, p) => tracer.startSpan(name, { attributes }, p),
  'stage-spans.ts': directStageSpans({ emit: encode, resource, scope: { name: SCOPE_NAME, version: SCOPE_VERSION } }),
};

/** The three stage spans of a /predict request (model.ts), REQUESTS times. Returns CPU us per request. */
function round(start: StartStageSpan): number {
  const attrs = { 'model.name': 'linear-demo', 'model.batch_size': 1, 'model.feature_count': 3 };
  return cpuUsPer(REQUESTS, () => {
    for (let i = 0; i < REQUESTS; i++) {
      start('preprocess', attrs, parent).end();
      start('inference', { ...attrs, 'model.simulated_latency_ms': 0 }, parent).end();
      start('postprocess', attrs, parent).end();
    }
  });
}

const results = interleaved(paths, ROUNDS, round);
console.log(`${REQUESTS} requests (3 stage spans each, encoded) per round, ${ROUNDS} rounds, node ${process.version}`);
console.log('| path | CPU us/request median (min-max) |');
console.log('|---|---|');
for (const [name, xs] of Object.entries(results)) console.log(`| ${name} | ${spread(xs)} |`);
const sdk = median(results["SDK's Tracer"]!);
const direct = median(results['stage-spans.ts']!);
console.log(`stage spans per request: stage-spans.ts ${direct.toFixed(2)} us vs SDK's Tracer ${sdk.toFixed(2)} us (saves ${(sdk - direct).toFixed(2)} us, ${(direct / sdk).toFixed(2)}x)`);
