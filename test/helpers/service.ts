// Starts the real service the way production does (`npm start`: node, its V8 flags, --import dist/telemetry/instrumentation.js dist/service/main.js), on a
// free loopback port, with only the environment given (in an empty working directory, so no developer `.env`
// leaks in), and waits for its "Server running on" line.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..', '..');

export interface RunningService {
  url: string;
  proc: ChildProcess;
  /** Sends `signal` (SIGTERM by default) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Everything written so far to stdout and stderr. */
  logs(): string;
  /** The JSON log lines so far. */
  logLines(): Record<string, unknown>[];
  exited: Promise<number | null>;
}

export interface StartOptions {
  /** Directory holding dist/ and package.json (the repository by default). */
  root?: string;
  cwd?: string;
  timeoutMs?: number;
  /** Extra argv before the entry point (defaults to the production `--import`). */
  command?: string[];
}

/**
 * The V8 flags of the production command (package.json "start", which the Dockerfile's CMD repeats), so tests
 * run the service as production does.
 */
/** `npm start`'s command as the container runs it: scripts/node.sh only picks the node binary, then execs it. */
export function productionCommand(start: string): string[] {
  return start.replace(/^sh scripts\/node\.sh /, 'node ').split(/\s+/);
}

export const NODE_FLAGS: string[] = (() => {
  const argv = productionCommand((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start);
  return argv.slice(1, argv.indexOf('--import'));
})();

export async function startService(env: Record<string, string>, opts: StartOptions = {}): Promise<RunningService> {
  const root = opts.root ?? ROOT;
  const cwd = opts.cwd ?? mkdtempSync(join(tmpdir(), 'svc-'));
  const args = opts.command ?? [...NODE_FLAGS, '--import', join(root, 'dist/telemetry/instrumentation.js'), join(root, 'dist/service/main.js')];
  const proc = spawn(process.execPath, args, {
    cwd,
    env: { PATH: process.env.PATH ?? '', API_HOST: '127.0.0.1', API_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((res) => proc.once('exit', (code) => res(code)));
  const url = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`service did not start in time:\n${output}`)), opts.timeoutMs ?? 15_000);
    const check = () => {
      const m = /Server running on (http:\/\/[^\s"]+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        proc.stdout!.off('data', check);
        res(m[1]!);
      }
    };
    proc.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      rej(new Error(`service exited with ${code} before listening:\n${output}`));
    });
  });
  return {
    url,
    proc,
    exited,
    logs: () => output,
    logLines: () =>
      output
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

/** Environment for a service exporting everything quickly to a test receiver over OTLP/gRPC. */
export function fastExportEnv(grpcUrl: string): Record<string, string> {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: grpcUrl,
    OTEL_BSP_SCHEDULE_DELAY: '100',
    OTEL_METRIC_EXPORT_INTERVAL: '300',
    DEFAULT_LATENCY_MS: '5',
    LOG_LEVEL: 'info',
  };
}

/** A port that was free a moment ago on 127.0.0.1 (for a child process that must know its ports up front). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
