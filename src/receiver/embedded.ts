// The local OTLP receiver as `npm start` runs it: a child process of the service (src/service/receiver-child.ts), so
// that decoding, printing and the console's stores cost the service's event loop nothing. It reads the same
// environment (RECEIVER_*) as the service, prints to the terminal it shares with it, and talks to it over IPC.
import { OtlpReceiver } from './receiver.ts';
import { isLoopback } from './console/api.ts';
import { loadEnvironment, parseConfig } from '../shared/config.ts';

/** Sent once listening: what the service logs at start-up. */
export interface ReceiverReady {
  type: 'ready';
  grpcUrl: string;
  httpUrl: string;
  healthUrl: string;
  consoleUrl: string;
  warnings: string[];
}
/** Sent instead when it cannot listen (a port taken): one line, then it exits 1. */
export interface ReceiverFailed {
  type: 'failed';
  message: string;
}
/** What the service sends once it has flushed its telemetry. */
export interface ReceiverStop {
  type: 'stop';
}

/** Runs until the service says stop or goes away; never resolves (it exits). */
export async function runEmbedded(): Promise<never> {
  const send = process.send?.bind(process);
  if (send === undefined) {
    process.stderr.write('--embedded is for the service\'s own child process; run `npm run receiver` instead\n');
    process.exit(2);
  }
  // Ctrl+C reaches the whole process group: the service drains and flushes its telemetry here first, then says stop.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
  const config = parseConfig(loadEnvironment()).receiver; // already validated by the service
  const receiver = new OtlpReceiver({ ...config, print: true, write: (text) => writeWholeLines(text, (chunk) => process.stdout.write(chunk)) });
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    // Bounded: a client other than the service may hold a gRPC call open.
    setTimeout(() => process.exit(0), 2000).unref();
    await receiver.stop();
    process.exit(0);
  };
  // The channel closes when the service exits, however abruptly: no orphan keeps the ports.
  process.on('disconnect', () => void stop());
  process.on('message', (m: ReceiverStop) => {
    if (m?.type === 'stop') void stop();
  });
  try {
    await receiver.start();
  } catch (err) {
    const failed: ReceiverFailed = { type: 'failed', message: portMessage(err as Error, config) };
    send(failed, () => process.exit(1));
    return new Promise(() => {});
  }
  const warnings: string[] = [];
  if (receiver.consoleError) warnings.push(`Console: ${receiver.consoleError} (RECEIVER_CONSOLE_PORT picks another port)`);
  if (receiver.consoleUrl && !isLoopback(config.console.host)) {
    warnings.push(`Console: listening on ${config.console.host}, not loopback: anyone who can reach it sees every span attribute and log line`);
  }
  const ready: ReceiverReady = { type: 'ready', grpcUrl: receiver.grpcUrl, httpUrl: receiver.httpUrl, healthUrl: receiver.healthUrl, consoleUrl: receiver.consoleUrl, warnings };
  send(ready);
  return new Promise(() => {});
}

export const PIPE_BUF = 4096;

/**
 * Writes whole lines in chunks of at most PIPE_BUF bytes, which the kernel keeps whole on a pipe: the service's log
 * lines, written to the same terminal or pipe by the other process, then fall between lines, never inside one.
 */
export function writeWholeLines(text: string, write: (chunk: string) => void): void {
  let chunk = '';
  let bytes = 0;
  for (const line of text.split(/(?<=\n)/)) {
    const n = Buffer.byteLength(line);
    if (bytes + n > PIPE_BUF && chunk !== '') {
      write(chunk);
      chunk = '';
      bytes = 0;
    }
    chunk += line;
    bytes += n;
  }
  if (chunk !== '') write(chunk);
}

/** One line naming the address and the variable that picks another (grpc-js wraps the cause in its own words). */
function portMessage(err: Error, config: { grpcPort: number; httpPort: number; healthPort: number }): string {
  const cause = /\[(listen [^\]]+)\]/.exec(err.message)?.[1] ?? err.message;
  const m = /^listen EADDRINUSE: address already in use (.*):(\d+)$/.exec(cause);
  if (m === null) return cause;
  const port = Number(m[2]);
  const variable = port === config.grpcPort ? 'RECEIVER_GRPC_PORT' : port === config.httpPort ? 'RECEIVER_HTTP_PORT' : port === config.healthPort ? 'RECEIVER_HEALTH_PORT' : 'RECEIVER_*_PORT';
  return `${m[1]}:${m[2]} is already in use (another receiver running?); ${variable} picks another port`;
}
