// Every entry point finds the project's Node or says in one line what to run: scripts/node.sh, which the npm scripts
// and ./load-generator/generate_load go through, in a shell that has only an old node on PATH.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ROOT } from '../helpers/service.ts';

const dir = mkdtempSync(join(tmpdir(), 'node-guard-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A project copy holding only scripts/node.sh, and a bin/ whose `node` is an old one (v20). */
function project(name: string): { root: string; bin: string } {
  const root = join(dir, name);
  mkdirSync(join(root, 'scripts'), { recursive: true });
  copyFileSync(join(ROOT, 'scripts/node.sh'), join(root, 'scripts/node.sh'));
  const bin = join(root, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'node'), '#!/bin/sh\n[ "$1" = "--version" ] && { echo v20.20.2; exit 0; }\nexit 1\n');
  chmodSync(join(bin, 'node'), 0o755);
  return { root, bin };
}
const run = (root: string, path: string, args: string[]) =>
  spawnSync('sh', [join(root, 'scripts/node.sh'), ...args], { encoding: 'utf8', env: { PATH: path } });

test('with only an old node and no toolchain, it stops with one line saying what to run', () => {
  const { root, bin } = project('bare');
  const r = run(root, `${bin}:/usr/bin:/bin`, ['-p', 'process.version']);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, `This project needs Node.js >= 22.15 (this shell has v20.20.2): run '. scripts/use-node24.sh' in ${root} once, then try again.\n`);
});

test('with only an old node on PATH, it runs the Node that scripts/use-node24.sh installed', () => {
  const { root, bin } = project('toolchain');
  mkdirSync(join(root, '.toolchain/node_modules/node/bin'), { recursive: true });
  symlinkSync(process.execPath, join(root, '.toolchain/node_modules/node/bin/node'));
  const r = run(root, `${bin}:/usr/bin:/bin`, ['-p', 'process.version']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), process.version);
});

test('npm start, npm run load, npm run bench and ./generate_load run on the project\'s Node from a shell with the machine\'s PATH', () => {
  // The machine's PATH as a new shell has it: its own node (20 here) and npm, not the one this test runs on.
  const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: process.env.HOME ?? '/root' };
  const cases: [string, string[], string, RegExp][] = [
    ['npm', ['run', '--silent', 'load', '--', '--help'], ROOT, /--url/],
    ['./generate_load', ['--help'], join(ROOT, 'load-generator'), /--url/],
    ['npm', ['run', '--silent', 'bench', '--', '--help'], ROOT, /^Usage: npm run bench/m],
  ];
  for (const [cmd, args, cwd, usage] of cases) {
    const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env });
    assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout + r.stderr, usage, `${cmd} ${args.join(' ')} prints its usage`);
  }
  // A bad value makes the service stop at once, after the configuration was parsed: by the project's Node.
  const start = spawnSync('npm', ['start', '--silent'], { cwd: ROOT, encoding: 'utf8', env: { ...env, API_PORT: 'ninety' } });
  assert.equal(start.status, 2, start.stderr);
  assert.match(start.stderr, /^Invalid configuration: API_PORT="ninety" is not allowed/m);
});
