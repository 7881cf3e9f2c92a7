// What one request costs in telemetry volume, for the capacity model (docs/CAPACITY.md): spans, log records and
// OTLP bytes per 1,000 requests, and metric bytes per export. Starts the project's receiver (counting mode), a
// byte-counting TCP relay in front of it per signal, and one replica of the service with the production command
// and its default export settings; sends a fixed number of requests at a modest rate (not a CPU measurement: safe on
// a shared machine), stops the service with SIGTERM so that it flushes, and prints the figures.
//   node scripts/telemetry-volume.ts [--requests 2000] [--rate 200]     (needs `npm run build`)
import { createServer, connect, type Server, type AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { runLoad } from '../src/load/engine.ts';
import { OtlpReceiver } from '../src/receiver/receiver.ts';
import { startService } from '../test/helpers/service.ts';

type Signal = 'traces' | 'metrics' | 'logs';
interface Relay {
  server: Server;
  url: string;
  /** Bytes the exporter sent (requests) and the receiver answered. */
  up: number;
  down: number;
  /** The first bytes sent (up to KEEP_BYTES), to measure how much gzip would save. */
  kept: Buffer[];
  keptBytes: number;
}
const KEEP_BYTES = 4 * 1024 * 1024;

/** A TCP relay to `port` that counts the bytes each way: the OTLP/gRPC traffic as the network carries it. */
async function relay(port: number): Promise<Relay> {
  const r: Relay = { server: createServer(), url: '', up: 0, down: 0, kept: [], keptBytes: 0 };
  r.server.on('connection', (client) => {
    const upstream = connect(port, '127.0.0.1');
    client.on('data', (d: Buffer) => {
      r.up += d.length;
      if (r.keptBytes < KEEP_BYTES) {
        r.kept.push(d);
        r.keptBytes += d.length;
      }
    });
    upstream.on('data', (d: Buffer) => (r.down += d.length));
    client.pipe(upstream).on('error', () => client.destroy());
    upstream.pipe(client).on('error', () => upstream.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => r.server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(r.server.address() as AddressInfo).port}`;
  return r;
}

const { values } = parseArgs({ options: { requests: { type: 'string', default: '2000' }, rate: { type: 'string', default: '200' } } });
const requests = Number(values.requests);
const rate = Number(values.rate);

const receiver = new OtlpReceiver({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, healthPort: 0, print: false, store: false });
await receiver.start();
const grpcPort = Number(new URL(receiver.grpcUrl).port);
const relays: Record<Signal, Relay> = { traces: await relay(grpcPort), metrics: await relay(grpcPort), logs: await relay(grpcPort) };

// Production defaults (batch sizes, delays, 100 % sampling, LOG_LEVEL=info); only the endpoints point at the relays.
const svc = await startService({
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: relays.traces.url,
  OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: relays.metrics.url,
  OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: relays.logs.url,
});

// The start-up log records leave within the log batch delay (1 s): wait until the count holds still, then start.
const c = receiver.counts;
let last = -1;
for (let i = 0; i < 40 && (c.logRecords === 0 || c.logRecords !== last); i++) {
  last = c.logRecords;
  await sleep(500);
}
const before = { spans: c.spans, logs: c.logRecords, up: { traces: relays.traces.up, logs: relays.logs.up } };

const run = await runLoad({
  target: `${svc.url}/predict`,
  method: 'POST',
  body: JSON.stringify({ features: [0.5, 1.5, 2.0] }),
  requests,
  durationMs: null,
  rate,
  concurrency: 64,
  timeoutMs: 10_000,
  propagate: false,
});
// SIGTERM flushes every queued span and log record before the process exits. The wait counts only each request's
// own 4 spans: `batch` spans (one per executed batch) and `queue` spans (waiting requests) vary with the load.
const exitCode = await svc.stop('SIGTERM');
await receiver.waitFor(() => c.spans - before.spans >= run.successful * 4, 10_000, 'spans').catch(() => undefined);

const per1k = (n: number): number => (n * 1000) / run.successful;
const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const spans = c.spans - before.spans;
const logs = c.logRecords - before.logs;
const traceBytes = relays.traces.up - before.up.traces;
const logBytes = relays.logs.up - before.up.logs;
const metricExports = c.exports.metrics;
console.log(`requests: ${run.sent} sent, ${run.successful} answered 2xx at ${rate} req/s; service exit ${exitCode}`);
console.log(`spans per 1,000 requests: ${fmt(per1k(spans), 1)}`);
console.log(`log records per 1,000 requests: ${fmt(per1k(logs), 1)}`);
console.log(`OTLP/gRPC bytes per 1,000 requests, traces: ${fmt(per1k(traceBytes))} (${fmt(traceBytes / spans, 1)} per span)`);
console.log(`OTLP/gRPC bytes per 1,000 requests, logs: ${fmt(per1k(logBytes))} (${fmt(logBytes / logs, 1)} per record)`);
console.log(`OTLP/gRPC bytes per 1,000 requests, traces + logs: ${fmt(per1k(traceBytes + logBytes))}`);
console.log(`OTLP/gRPC bytes per metric export: ${fmt(relays.metrics.up / Math.max(1, metricExports))} (${metricExports} exports, one per OTEL_METRIC_EXPORT_INTERVAL per pod)`);
// The Collector's otlp exporter compresses with gzip by default: what that would make of these bytes (the stream as
// a whole, frames included, so a little better than batch by batch).
const ratio = (r: Relay): number => {
  const raw = Buffer.concat(r.kept);
  return raw.length / gzipSync(raw).length;
};
console.log(`gzip ratio (raw / compressed), traces: ${fmt(ratio(relays.traces), 2)}, logs: ${fmt(ratio(relays.logs), 2)}, both: ${fmt(
  (relays.traces.keptBytes + relays.logs.keptBytes) / (relays.traces.keptBytes / ratio(relays.traces) + relays.logs.keptBytes / ratio(relays.logs)),
  2,
)}`);
console.log(`answers from the receiver: ${fmt(relays.traces.down + relays.logs.down + relays.metrics.down)} bytes in all (not counted above)`);

await receiver.stop();
for (const r of Object.values(relays)) r.server.close();
process.exit(0);
