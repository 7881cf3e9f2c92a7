// `npm start`'s local OTLP receiver runs beside the service as a child process: a separate pid that prints into the
// same terminal, outlives a Ctrl+C to the process group until the service has flushed, and never outlives the service.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { NODE_FLAGS, ROOT, freePort, postJson } from '../helpers/service.ts';

interface Started {
  proc: ChildProcess;
  output: () => string;
  /** Resolves with the exit code once the service has exited and its output (and its child's) has closed. */
  closed: Promise<number | null>;
  url: Promise<string>;
}

const started: Started[] = [];
after(() => {
  // Each service leads its own process group: whatever a failed test left behind goes with it.
  for (const s of started) {
    try {
      process.kill(-s.proc.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** `npm start` in its own process group (as a terminal runs it), with the receiver on free ports. */
async function start(env: Record<string, string> = {}): Promise<Started & { ports: { grpc: number; http: number; health: number; console: number } }> {
  const ports = { grpc: await freePort(), http: await freePort(), health: await freePort(), console: await freePort() };
  const proc = spawn(process.execPath, [...NODE_FLAGS, '--import', join(ROOT, 'dist/telemetry/instrumentation.js'), join(ROOT, 'dist/service/main.js')], {
    cwd: mkdtempSync(join(tmpdir(), 'svc-')),
    env: {
      PATH: process.env.PATH ?? '',
      API_HOST: '127.0.0.1',
      API_PORT: '0',
      DEFAULT_LATENCY_MS: '5',
      RECEIVER_GRPC_PORT: String(ports.grpc),
      RECEIVER_HTTP_PORT: String(ports.http),
      RECEIVER_HEALTH_PORT: String(ports.health),
      RECEIVER_CONSOLE_PORT: String(ports.console),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  proc.stdout!.on('data', (d: Buffer) => (output += d));
  proc.stderr!.on('data', (d: Buffer) => (output += d));
  const closed = new Promise<number | null>((resolve) => proc.once('close', (code) => resolve(code)));
  const url = new Promise<string>((resolve, reject) => {
    const check = () => {
      const m = /Server running on (http:\/\/[^\s"]+)/.exec(output);
      if (m) resolve(m[1]!);
    };
    proc.stdout!.on('data', check);
    void closed.then((code) => reject(new Error(`service exited with ${code} before listening:\n${output}`)));
  });
  url.catch(() => {});
  const s = { proc, output: () => output, closed, url, ports };
  started.push(s);
  return s;
}

/** Pids whose parent is `pid`, from /proc. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const startedAt = Date.now();
  while (!(await check())) {
    if (Date.now() - startedAt > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('the receiver runs in a child process with the service\'s node flags: killing it leaves the service answering', async () => {
  const svc = await start();
  const url = await svc.url;
  const children = childrenOf(svc.proc.pid!);
  assert.equal(children.length, 1, `one child process: ${children}`);
  const receiverPid = children[0]!;
  const argv = cmdline(receiverPid);
  assert.equal(argv[0], process.execPath, 'the same node');
  assert.ok(argv.some((a) => a.endsWith(join('dist', 'receiver', 'main.js'))), argv.join(' '));
  assert.ok(argv.includes('--embedded'), argv.join(' '));
  for (const flag of NODE_FLAGS) assert.ok(argv.includes(flag), `${flag} in ${argv.join(' ')}`);
  assert.ok(!argv.includes('--import'), 'the child does not load the telemetry bootstrap');
  assert.equal((await (await fetch(`http://127.0.0.1:${svc.ports.health}/`)).json()).status, 'Server available');

  process.kill(receiverPid, 'SIGKILL');
  await until(async () => !(await accepts(svc.ports.health)), 'the receiver health port to close');
  await until(() => /Local OTLP receiver killed by SIGKILL: telemetry export to it fails from now on/.test(svc.output()), 'the service to log the exit');
  assert.equal((await postJson(`${url}/predict`, { features: [1, 2, 3] })).status, 200, 'the service still answers');
  process.kill(svc.proc.pid!, 'SIGTERM');
  assert.equal(await svc.closed, 0);
});

test('Ctrl+C to the process group prints every span of a just-answered request before both exit', async () => {
  // A long batch delay: the spans are still queued in the service when the signal arrives.
  const svc = await start({ OTEL_BSP_SCHEDULE_DELAY: '60000', OTEL_METRIC_EXPORT_INTERVAL: '60000' });
  const url = await svc.url;
  const receiverPid = childrenOf(svc.proc.pid!)[0]!;
  const res = await postJson(`${url}/predict`, { features: [0.5, 1.5, 2.0] });
  assert.equal(res.status, 200);
  const traceId = res.body.trace_id as string;
  process.kill(-svc.proc.pid!, 'SIGINT'); // the terminal signals the whole group
  assert.equal(await svc.closed, 0);
  assert.ok(!alive(receiverPid), 'the receiver exited too');
  const out = svc.output();
  const summary = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).find((l) => l.msg === 'Shutdown complete: requests drained');
  assert.ok(summary, out);
  const ended = summary.telemetry.spans_ended as number;
  assert.ok(ended >= 2, `the request ended several spans (${ended})`);
  // The request's own trace, and its batch span's trace (batch spans are roots, linked to the requests they served).
  assert.ok(out.split('\n').filter((l) => l === `    Trace ID       : ${traceId}`).length >= 4, 'the request and its stages');
  const printed = out.split('\n').filter((l) => l.startsWith('    Trace ID       : ')).length;
  assert.equal(printed, ended, 'every span the service ended is printed by the receiver');
  assert.ok(out.lastIndexOf(`Trace ID       : ${traceId}`) > out.indexOf('Received SIGINT'), 'printed during the drain, not before');
});

test('a SIGKILLed service leaves no receiver behind holding the ports', async () => {
  const svc = await start();
  await svc.url;
  const receiverPid = childrenOf(svc.proc.pid!)[0]!;
  assert.ok(await accepts(svc.ports.grpc));
  process.kill(svc.proc.pid!, 'SIGKILL');
  await until(() => !alive(receiverPid), 'the receiver process to exit');
  for (const port of Object.values(svc.ports)) assert.equal(await accepts(port), false, `port ${port} is free`);
  await svc.closed;
});

test('a receiver port already taken stops start-up with one line naming the port and its variable', async () => {
  const taken: Server = createServer();
  const port = await new Promise<number>((resolve) => taken.listen(0, '127.0.0.1', () => resolve((taken.address() as { port: number }).port)));
  try {
    for (const variable of ['RECEIVER_GRPC_PORT', 'RECEIVER_HTTP_PORT']) {
      const svc = await start({ [variable]: String(port) });
      await assert.rejects(svc.url);
      assert.equal(await svc.closed, 1);
      const out = svc.output();
      const fatal = out.split('\n').filter((l) => l.includes('Start-up failed'));
      assert.equal(fatal.length, 1, out);
      assert.match(fatal[0]!, new RegExp(`local OTLP receiver: 127\\.0\\.0\\.1:${port} is already in use \\(another receiver running\\?\\); ${variable} picks another port`));
      assert.doesNotMatch(out, /^\s+at /m, 'no stack trace');
      assert.doesNotMatch(out, /Server running on/);
    }
  } finally {
    taken.close();
  }
});
