// `npm start`'s local OTLP receiver, run as a child process (src/receiver/embedded.ts) so that its decoding, printing
// and console cost the service's event loop nothing. Same Node and V8 flags; the child writes to this terminal itself.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ReceiverFailed, ReceiverReady, ReceiverStop } from '../receiver/embedded.ts';

export interface ReceiverChild extends Omit<ReceiverReady, 'type'> {
  pid: number;
  /** Called once if the child exits before stop() was asked for. */
  onUnexpectedExit(cb: (how: string) => void): void;
  /** Asks the child to stop (after the service flushed its telemetry) and resolves once it has exited. */
  stop(): Promise<void>;
}

export class ReceiverStartError extends Error {}

/** The parent's flags minus those that would load the telemetry bootstrap, watch files or debug in the child too. */
export function childExecArgv(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    const name = arg.split('=')[0]!;
    if (['--import', '--require', '-r', '--loader', '--experimental-loader', '--watch-path', '--inspect-port'].includes(name)) {
      if (!arg.includes('=')) i++; // its value follows
      continue;
    }
    if (name.startsWith('--watch') || name.startsWith('--inspect') || name.startsWith('--test')) continue;
    out.push(arg);
  }
  return out;
}

const entry = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../receiver/main.ts' : '../receiver/main.js', import.meta.url));

/** Starts the receiver and resolves once it listens; rejects with one line when it cannot. */
export function startReceiverChild(timeoutMs = 30_000): Promise<ReceiverChild> {
  const child: ChildProcess = fork(entry, ['--embedded'], {
    execArgv: childExecArgv(process.execArgv),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal !== null ? `killed by ${signal}` : `exited with code ${code}`)),
  );
  let stopAsked = false;
  let settled = false;
  return new Promise((resolve, reject) => {
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new ReceiverStartError(`local OTLP receiver: ${message}`));
    };
    const timer = setTimeout(() => fail(`not listening after ${timeoutMs} ms`), timeoutMs);
    child.on('error', (err) => fail(err.message)); // after start-up: a failed send or kill, seen on exit instead
    void exited.then((how) => fail(`${how} before listening`));
    child.on('message', (m: ReceiverReady | ReceiverFailed) => {
      if (m.type === 'failed') return fail(m.message);
      if (m.type !== 'ready' || settled) return;
      settled = true;
      clearTimeout(timer);
      const { type: _, ...urls } = m;
      resolve({
        ...urls,
        pid: child.pid!,
        onUnexpectedExit: (cb) => void exited.then((how) => stopAsked || cb(how)),
        stop: async () => {
          stopAsked = true;
          const stop: ReceiverStop = { type: 'stop' };
          if (child.exitCode === null && child.signalCode === null && child.connected) child.send(stop, () => {});
          const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(killer);
        },
      });
    });
  });
}
