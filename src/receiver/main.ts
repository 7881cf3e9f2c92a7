// `npm run receiver`: the local OTLP receiver on its own, for when the service runs elsewhere (or several
// services share one receiver). Flags mirror the Collector's defaults; `--count` is the benchmark's sink mode.
import { parseArgs } from 'node:util';
import { DEFAULT_MAX_BODY_BYTES, OtlpReceiver } from './receiver.ts';
import { isLoopback } from './console/api.ts';
import { ConfigError, loadEnvironment, parseConfig } from '../shared/config.ts';
import { runEmbedded } from './embedded.ts';

// `npm start` runs this file as its child with --embedded (src/service/receiver-child.ts); it never returns.
if (process.argv.includes('--embedded')) await runEmbedded();

const usage = `Usage: npm run receiver -- [--host 127.0.0.1] [--grpc-port 4317] [--http-port 4318] [--health-port 13133]
                            [--verbosity focused|detailed|normal|basic] [--count] [--max-request-body-bytes 20971520]
                            [--console-host 127.0.0.1] [--console-port 4380] [--no-console]
  --verbosity  focused (default): spans, logs and application metrics in detail; instrumentation libraries'
               metrics (Node runtime) one line per scope, and metrics unchanged since the last export left out.
               detailed: everything, as the Collector's debug exporter at detailed verbosity
  --count   counting mode (the benchmark's sink): count spans, metrics and log records on the wire without
            decoding them, print totals every 5 s and on exit; keeps nothing, so no trace lookup
  --max-request-body-bytes  largest export accepted, as sent and after gzip/deflate decompression (default 20 MiB,
            the Collector's max_request_body_size): larger gets 413 on HTTP, RESOURCE_EXHAUSTED on gRPC
  --console-host, --console-port  the web console (default RECEIVER_CONSOLE_HOST/PORT, 127.0.0.1:4380); it shows
            every attribute and log line received, so a non-loopback address logs a warning. Its store limits are the
            RECEIVER_CONSOLE_MAX_* variables. --no-console: none (counting mode never has one)`;

function port(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    process.stderr.write(`--${flag}=${JSON.stringify(raw)} is not allowed: expected an integer from 0 to 65535\n${usage}\n`);
    process.exit(2);
  }
  return n;
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      'grpc-port': { type: 'string' },
      'http-port': { type: 'string' },
      'health-port': { type: 'string' },
      verbosity: { type: 'string', default: 'focused' },
      count: { type: 'boolean', default: false },
      'max-request-body-bytes': { type: 'string' },
      'console-host': { type: 'string' },
      'console-port': { type: 'string' },
      console: { type: 'boolean', default: true },
      help: { type: 'boolean', default: false },
    },
    allowNegative: true,
  }));
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n${usage}\n`);
  process.exit(2);
}
if (values.help) {
  process.stdout.write(usage + '\n');
  process.exit(0);
}
const verbosity = values.verbosity;
if (verbosity !== 'focused' && verbosity !== 'detailed' && verbosity !== 'normal' && verbosity !== 'basic') {
  process.stderr.write(`--verbosity=${JSON.stringify(verbosity)} is not allowed: expected focused, detailed, normal or basic\n`);
  process.exit(2);
}
const rawLimit = values['max-request-body-bytes'];
const maxBodyBytes = rawLimit === undefined ? DEFAULT_MAX_BODY_BYTES : Number(rawLimit);
if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 1) {
  process.stderr.write(`--max-request-body-bytes=${JSON.stringify(rawLimit)} is not allowed: expected a positive integer\n${usage}\n`);
  process.exit(2);
}
let consoleConfig;
try {
  consoleConfig = parseConfig(loadEnvironment()).receiver.console;
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`Invalid configuration: ${err.message}\n`);
  process.exit(2);
}
const consoleHost = values['console-host'] ?? consoleConfig.host;
const receiver = new OtlpReceiver({
  maxBodyBytes,
  host: values.host,
  grpcPort: port('grpc-port', values['grpc-port'], 4317),
  httpPort: port('http-port', values['http-port'], 4318),
  healthPort: port('health-port', values['health-port'], 13133),
  verbosity,
  print: !values.count,
  store: !values.count,
  console: {
    enabled: values.console && consoleConfig.enabled,
    host: consoleHost,
    port: port('console-port', values['console-port'], consoleConfig.port),
    limits: consoleConfig.limits,
  },
});
await receiver.start();
const ts = () => new Date().toISOString();
process.stdout.write(`${ts()}\tinfo\tStarting GRPC server\t{"endpoint": "${receiver.grpcUrl.replace('http://', '')}"}\n`);
process.stdout.write(`${ts()}\tinfo\tStarting HTTP server\t{"endpoint": "${receiver.httpUrl.replace('http://', '')}"}\n`);
process.stdout.write(`${ts()}\tinfo\tHealth Check state change\t{"status": "ready", "endpoint": "${receiver.healthUrl.replace('http://', '')}"}\n`);
if (receiver.consoleUrl) process.stdout.write(`${ts()}\tinfo\tConsole: open ${receiver.consoleUrl} to see traces, metrics and logs\n`);
if (receiver.consoleError) process.stdout.write(`${ts()}\twarn\tConsole: ${receiver.consoleError} (--console-port picks another port)\n`);
if (receiver.consoleUrl && !isLoopback(consoleHost)) {
  process.stdout.write(`${ts()}\twarn\tConsole: listening on ${consoleHost}, not loopback: anyone who can reach it sees every span attribute and log line\n`);
}
process.stdout.write(`${ts()}\tinfo\tEverything is ready. Begin running and processing data.\n`);
const totals = () => JSON.stringify({ spans: receiver.counts.spans, metrics: receiver.counts.metrics, log_records: receiver.counts.logRecords, rejected: receiver.counts.rejected });
const timer = values.count ? setInterval(() => process.stdout.write(`${ts()}\tinfo\tTotals\t${totals()}\n`), 5000) : undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, async () => {
    clearInterval(timer);
    await receiver.stop();
    process.stdout.write(`${ts()}\tinfo\tShutdown complete.\t${totals()}\n`);
    process.exit(0);
  });
}
