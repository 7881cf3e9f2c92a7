// Smoke test of `npm run bench -- --quick`: every step runs and the report has its table and the six targets.
// It asserts nothing about speed (CI machines are noisy); the measurement is `npm run bench` (docs/PERFORMANCE.md).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { ROOT } from './helpers/service.ts';

/** Runs a script of scripts/ to its end: exit code, stdout, stderr. */
async function runScript(script: string, args: string[]): Promise<{ code: unknown; out: string; err: string }> {
  const child = spawn(process.execPath, [`scripts/${script}`, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise((r) => child.once('exit', r));
  return { code, out, err };
}

test('the benchmark runs every variant and step in quick mode and reports P1 to P6 and the batching target B1', { timeout: 240_000 }, async () => {
  const { code, out, err } = await runScript('bench.ts', ['--quick']);
  assert.equal(code, 0, `bench failed:\n${err}\n${out}`);
  assert.match(out, /\| ours, full telemetry .* \| [\d,]+ \(/);
  assert.match(out, /\| ours, OTEL_SDK_DISABLED=true \| [\d,]+ \(/);
  assert.match(out, /\| plain node:http, same JSON work, no telemetry \| [\d,]+ \(/);
  for (const id of ['P1', 'P2', 'P3', 'P4', 'P5', 'P6', 'B1']) assert.match(out, new RegExp(`^${id} (PASS|FAIL|SKIP)  `, 'm'), `${id} reported`);
  // Spans were really exported and counted: the delivered column is a percentage, not a dash.
  assert.match(out, /\| ours, full telemetry .*\| \d+\.\d+ % \| 0 \|$/m);
});

test('the benchmark refuses bad arguments with a message and the usage, before starting anything, and prints its help', async () => {
  const run = (args: string[]) => runScript('bench.ts', args);
  const cases: [string[], RegExp][] = [
    [['--bogus'], /^bench: Unknown option '--bogus'/],
    [['--rounds', 'three'], /^bench: --rounds must be a positive number, got "three"/],
    [['--soak', '0'], /^bench: --soak must be a positive number, got "0"/],
    [['--variants', 'full,fast'], /^bench: unknown variant fast: one of full, disabled, plain, fastapi-uvloop, fastapi/],
    [['--env', 'LOG_LEVEL'], /^bench: --env takes KEY=VALUE pairs separated by commas, got "LOG_LEVEL"/],
  ];
  for (const [args, message] of cases) {
    const r = await run(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.err, message);
    assert.match(r.err, /Usage: npm run bench/);
    assert.doesNotMatch(r.err, /at .*bench\.ts:\d+/, 'no stack trace');
  }
  const help = await run(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /^Usage: npm run bench -- \[options\]/);
  assert.match(help.out, /--variants A,B/);
});

test('the span benchmark measures both paths for the server span and the stage spans and prints what the direct ones save', { timeout: 60_000 }, async () => {
  const { code, out } = await runScript('bench-spans.ts', ['--requests', '2000', '--rounds', '1']);
  assert.equal(code, 0, out);
  for (const kind of ['server span', 'stage spans']) {
    for (const path of ["SDK's Tracer", 'direct-spans.ts']) assert.match(out, new RegExp(`^\\| ${kind}, ${path} \\| \\d+\\.\\d+ \\(`, 'm'), `${kind}, ${path}`);
    assert.match(out, new RegExp(`^${kind} per request: direct-spans\\.ts \\d+\\.\\d+ us vs SDK's Tracer \\d+\\.\\d+ us \\(saves -?\\d+\\.\\d+ us`, 'm'), kind);
  }
});
