// `node scripts/bench-logger.ts [--lines 200000] [--rounds 5]`: what a request log line costs on its way to OTLP,
// measured in one process, rounds interleaved: pino alone (no export), through the SDK's Logger (Logs API,
// LogRecordImpl), and straight to the encoder (`direct`, what EXPORT_PIPELINE=eager uses). Both exporting paths
// end in the same place: the record encoded to OTLP protobuf by writeLogRecord into a reused buffer (no network),
// inside an active span context, as in a request. Prints CPU microseconds per line (median and min-max over the
// rounds) and what exporting adds to pino alone.
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { context, logs, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, type ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { Logger } from 'pino';
import { createLogger } from '../src/telemetry/logger.ts';
import { ProtoWriter, writeLogRecord } from '../src/telemetry/otlp-encode.ts';
import { SCOPE_NAME, SCOPE_VERSION } from '../src/telemetry/scope.ts';
import { cpuUsPer, interleaved, median, spread } from './microbench.ts';

const { values: flags } = parseArgs({ options: { lines: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '5' } } });
const LINES = Number(flags.lines);
const ROUNDS = Number(flags.rounds);
if (!(LINES > 0 && ROUNDS > 0)) throw new Error('--lines and --rounds must be positive numbers');

const writer = new ProtoWriter(1024);
const encode = (record: ReadableLogRecord): void => {
  writer.pos = 0;
  writeLogRecord(writer, record);
};
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const resource = resourceFromAttributes({ 'service.name': 'bench' });
logs.setGlobalLoggerProvider(
  new LoggerProvider({ resource, processors: [{ onEmit: (r) => encode(r as unknown as ReadableLogRecord), forceFlush: async () => {}, shutdown: async () => {} }] }),
);
// pino writes to a sink that drops the bytes: the lines are formatted as usual, nothing is written.
const sink = new Writable({ write: (_c, _e, cb) => cb() });
const paths: Record<string, Logger> = {
  'pino only': createLogger({ level: 'info', exportLogs: false, destination: sink }),
  'SDK Logger': createLogger({ level: 'info', exportLogs: true, destination: sink }),
  direct: createLogger({ level: 'info', exportLogs: true, destination: sink, direct: { emit: encode, resource, scope: { name: SCOPE_NAME, version: SCOPE_VERSION } } }),
};
const inSpan = trace.setSpanContext(context.active(), { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED });

/** The two lines of a /predict request, LINES / 2 times. Returns CPU us per line. */
const round = (log: Logger): number =>
  cpuUsPer(LINES, () =>
    context.with(inSpan, () => {
      for (let i = 0; i < LINES / 2; i++) {
        log.info('Prediction request received');
        log.info({ latency_ms: 0.05 + (i % 7) / 100 }, 'Prediction completed - latency: 0ms');
      }
    }),
  );

const results = interleaved(paths, ROUNDS, round);
const base = median(results['pino only']!);
console.log(`${LINES} lines per round, ${ROUNDS} rounds, node ${process.version}`);
console.log('| path | CPU us/line median (min-max) | vs pino only |');
console.log('|---|---|---|');
for (const [name, xs] of Object.entries(results)) {
  const m = median(xs);
  console.log(`| ${name} | ${spread(xs)} | +${(m - base).toFixed(2)} us |`);
}
const sdk = median(results['SDK Logger']!) - base;
const direct = median(results.direct!) - base;
console.log(`export cost per line: direct ${direct.toFixed(2)} us vs SDK Logger ${sdk.toFixed(2)} us (${(direct / sdk).toFixed(2)}x)`);
