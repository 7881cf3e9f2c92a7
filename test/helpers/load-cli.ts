// The load generator's CLI (src/load/cli.ts) run as users run it, in a child process.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const LOAD_CLI = fileURLToPath(new URL('../../src/load/cli.ts', import.meta.url));

/** Runs the CLI with `args` to its exit (killed after `timeoutMs`); a kill or a signal reads as code -1. */
export function loadCli(args: string[], timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [LOAD_CLI, ...args], { timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}
