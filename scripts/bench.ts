// `npm run bench [-- --quick] [--rounds 3] [--seconds 8] [--soak 60] [--out bench.json] [--batching]`
// One run, side by side on this machine: each server pinned to core 0, our load generator (and the counting OTLP
// receiver) on core 1, warm-up discarded, every variant several times (medians, min-max). Prints req/s, CPU
// microseconds per request, p50/p99, RSS and spans delivered, then the targets P1-P6 with PASS/FAIL.
// --quick is the CI smoke test: every step once and short; it asserts nothing about speed.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, NODE_FLAGS } from '../test/helpers/service.ts';

const ROOT = resolve(import.meta.dirname, '..');
const USAGE = `Usage: npm run bench -- [options]   (node scripts/bench.ts [options])

Every variant side by side on this machine (server on core 0, load on core 1), then the targets P1-P6.

  --quick              CI smoke test: every step once and short; asserts nothing about speed
  --rounds N           rounds per variant (default 3; 1 with --quick)
  --seconds S          seconds measured per round (default 8; 2 with --quick)
  --soak S             seconds of the P5 memory run at saturation (default 60; 3 with --quick)
  --out FILE           also write every figure as JSON to FILE
  --variants A,B       measure only these variants (full, disabled, plain, fastapi-uvloop, fastapi); judges nothing
  --env K=V,K=V        extra environment for our variants (what a setting costs)
  --node-flags=F       Node/V8 flags for our variants instead of those of npm start (--node-flags="--max-semi-space-size=16")
  --batching           only the dynamic batching scenario (B1, B2), then stop
  -h, --help           this help`;
const fail = (msg: string): never => {
  process.stderr.write(`bench: ${msg}\n\n${USAGE}\n`);
  process.exit(2);
};
const parsed = (() => {
  try {
    return parseArgs({
      options: {
        help: { type: 'boolean', short: 'h', default: false },
        quick: { type: 'boolean', default: false },
        rounds: { type: 'string' },
        seconds: { type: 'string' },
        soak: { type: 'string' },
        out: { type: 'string' },
        variants: { type: 'string' },
        // Extra environment for our variants, to measure what a setting costs: --env LOG_LEVEL=warn,OTEL_LOGS_EXPORTER=none
        env: { type: 'string' },
        // Node/V8 flags for our variants instead of those of `npm start`: --node-flags="--max-semi-space-size=16"
        'node-flags': { type: 'string' },
        // Only the dynamic batching scenario (B1, B2): a few seconds instead of the whole bench.
        batching: { type: 'boolean', default: false },
      },
    });
  } catch (err) {
    return fail((err as Error).message);
  }
})();
const flags = parsed.values;
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
// Bad arguments are refused here, before any process is started.
for (const name of ['rounds', 'seconds', 'soak'] as const) {
  const v = flags[name];
  if (v !== undefined && !(Number(v) > 0)) fail(`--${name} must be a positive number, got ${JSON.stringify(v)}`);
}
const VARIANT_NAMES = ['full', 'disabled', 'plain', 'fastapi-uvloop', 'fastapi'] as const;
type VariantName = (typeof VARIANT_NAMES)[number];
const unknownVariants = (flags.variants?.split(',') ?? []).filter((v) => !(VARIANT_NAMES as readonly string[]).includes(v));
if (unknownVariants.length > 0) fail(`unknown variant ${unknownVariants.join(', ')}: one of ${VARIANT_NAMES.join(', ')}`);
const badEnv = (flags.env ?? '').split(',').filter(Boolean).find((kv) => !(kv.indexOf('=') > 0));
if (badEnv !== undefined) fail(`--env takes KEY=VALUE pairs separated by commas, got ${JSON.stringify(badEnv)}`);
const quick = flags.quick;
const ROUNDS = Number(flags.rounds ?? (quick ? 1 : 3));
const SECONDS = Number(flags.seconds ?? (quick ? 2 : 8));
const SOAK_S = Number(flags.soak ?? (quick ? 3 : 60));
const SKIP_TARGETS = flags.variants !== undefined; // a partial run (--variants) measures, it does not judge
const WARMUP_S = quick ? 1 : 3;
const P4_S = quick ? 2 : 30; // seconds measured per P4 round: 10 s windows held a major GC of the full service or not (one or two per 30 s at 1,000 req/s)
const CONCURRENCY = 32;
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
const PYTHON = '/usr/bin/python3';
// Our service runs as `npm start` does, its V8 flags included, unless --node-flags replaces them.
const nodeFlags = flags['node-flags'] === undefined ? NODE_FLAGS : flags['node-flags'].split(/\s+/).filter(Boolean);
const START = [...nodeFlags, '--import', './dist/telemetry/instrumentation.js', 'dist/service/main.js'];

const hasTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const pinned = (core: number, cmd: string, args: string[]): [string, string[]] =>
  hasTaskset ? ['taskset', ['-c', String(core), cmd, ...args]] : [cmd, args];
// The load (our generator, wrk) runs at a lower priority than the receiver that shares its core: a Collector has
// CPU of its own, and a receiver starved by a saturating load generator answers exports late, so the service's
// queue overflows and the drop figure measures the bench rather than the service (measured: 10 s at saturation,
// 74,980 of 304,872 spans dropped with equal priority, 0 of 274,556 with the receiver ahead). P4 turns it around.
const loadPinned = (cmd: string, args: string[], niceness = 10): [string, string[]] => {
  const [c, a] = pinned(1, cmd, args);
  return ['nice', ['-n', String(niceness), c, ...a]];
};

interface Proc {
  child: ChildProcess;
  pid: number;
  stop(): Promise<void>;
}

/** Starts a process and resolves once `ready` matches its output, or, given a URL, once that URL answers 200. */
function start(core: number, cmd: string, args: string[], env: Record<string, string>, ready: RegExp | string, timeoutMs = 15_000): Promise<Proc> {
  const [c, a] = pinned(core, cmd, args);
  // A server's output (its request logs, thousands of lines a second) goes to a file. Read through a pipe by this
  // process, it took CPU from the load generator's core during P4 (and from either core before): P4's disabled
  // service, which logs as much as the full one, measured a p99 of 1.06-1.43 ms in the bench that way (two
  // runs) against 0.88-1.05 ms in the same sequence replayed by hand with its output in a file.
  const dir = typeof ready === 'string' ? mkdtempSync(join(os.tmpdir(), 'bench-')) : null;
  const file = dir === null ? null : join(dir, 'output.log');
  const fd = file === null ? null : openSync(file, 'a');
  const child = spawn(c, a, { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, stdio: fd === null ? ['ignore', 'pipe', 'pipe'] : ['ignore', fd, fd] });
  if (fd !== null) closeSync(fd);
  let piped = '';
  const keep = (d: Buffer) => {
    piped += d.toString();
    if (piped.length > 200_000) piped = piped.slice(-100_000); // keep the tail only
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  /** The last 100 KB of the output, for the errors below. */
  const output = (): string => {
    if (file === null) return piped;
    try {
      const f = openSync(file, 'r');
      try {
        const size = fstatSync(f).size;
        const buf = Buffer.alloc(Math.min(size, 100_000));
        readSync(f, buf, 0, buf.length, size - buf.length);
        return buf.toString();
      } finally {
        closeSync(f);
      }
    } catch {
      return '';
    }
  };
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`${cmd} ${args.join(' ')} not ready:\n${output().slice(-2000)}`)), timeoutMs);
    let polling = typeof ready === 'string';
    const poll = async () => {
      while (polling) {
        if (await fetch(ready as string).then((r) => r.status === 200, () => false)) return check(true);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const check = (answered = false) => {
      if (answered || (typeof ready !== 'string' && ready.test(piped))) {
        polling = false;
        clearTimeout(timer);
        res({
          child,
          pid: child.pid!,
          stop: async () => {
            if (child.exitCode === null) child.kill('SIGTERM');
            const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
            await exited;
            clearTimeout(t);
            if (dir !== null) rmSync(dir, { recursive: true, force: true });
          },
        });
      }
    };
    if (typeof ready === 'string') void poll();
    else {
      child.stdout!.on('data', () => check());
      child.stderr!.on('data', () => check());
    }
    void exited.then(() => {
      polling = false;
      clearTimeout(timer);
      rej(new Error(`${cmd} exited before ready:\n${output().slice(-2000)}`));
    });
  });
}

/** The server process itself: with taskset, the child's pid is taskset's, which execs the command (same pid). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14 and 15 of proc(5))
}
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

interface LoadSummary {
  /** The measured window (after any warm-up). */
  durationMs: number;
  requests: { successful: number; failed: number; late: number; dropped: number };
  rate: { actual: number };
  latencyMs: { p50: number; p99: number };
  /** From the moment each request was actually sent (latencyMs counts from its place in the schedule). */
  serviceTimeMs: { p99: number };
  client: { cpuPercent: number; saturated: boolean };
  statusCodes: Record<string, number>;
}

/** Our load generator's CLI in its own process on core 1 (asynchronous, so RSS sampling goes on meanwhile). */
function load(url: string, extra: string[], niceness = 10): Promise<LoadSummary> {
  const [c, a] = loadPinned(process.execPath, [join(ROOT, 'dist/load/cli.js'), '--url', url, '--json', '--quiet', ...extra], niceness);
  const child = spawn(c, a, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((res, rej) =>
    child.once('exit', (code) => {
      if (code !== 0 && code !== 1) rej(new Error(`load generator failed (${code}): ${err}`));
      else res(JSON.parse(out) as LoadSummary);
    }),
  );
}

function wrk(url: string, seconds: number): number | null {
  if (spawnSync('wrk', ['--version']).error) return null;
  const script = join(ROOT, 'scripts/peers/predict.lua');
  const [c, a] = loadPinned('wrk', ['-t1', `-c${CONCURRENCY}`, `-d${seconds}s`, '-s', script, `${url}/predict`]);
  const r = spawnSync(c, a, { encoding: 'utf8' });
  const m = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout);
  return m ? Number(m[1]) : null;
}

// ---- receiver ------------------------------------------------------------------------------------------------
const ports = { grpc: await freePort(), http: await freePort(), health: await freePort() };
const receiver = await start(1, process.execPath, [join(ROOT, 'dist/receiver/main.js'), '--count', '--grpc-port', String(ports.grpc), '--http-port', String(ports.http), '--health-port', String(ports.health)], {}, /Everything is ready/);
const receiverCounts = async (): Promise<{ spans: number; logRecords: number }> =>
  (await (await fetch(`http://127.0.0.1:${ports.http}/debug/counts`)).json()) as { spans: number; logRecords: number };
/** The export counts the service shows on `/health` (none when the SDK is disabled). */
async function telemetryOf(serviceUrl: string): Promise<{ spans_ended?: number; spans_queued?: number; spans_dropped?: number; log_records_dropped?: number }> {
  const health = (await (await fetch(`${serviceUrl}/health`)).json()) as { telemetry?: Record<string, number> };
  return health.telemetry ?? {};
}

/**
 * Waits until the service has nothing queued or in flight (its /health says so, exactly) and the receiver's count
 * has stopped moving, at most 30 s; returns the receiver's span count and how many /health polls it made (each
 * poll is a traced request too: one span).
 */
async function settledSpans(serviceUrl: string): Promise<{ spans: number; polls: number }> {
  const deadline = Date.now() + 30_000;
  let polls = 0;
  for (;;) {
    polls++;
    // Each /health poll is itself traced: the previous poll's span may still wait for the batch timer.
    if (((await telemetryOf(serviceUrl)).spans_queued ?? 0) <= 1 || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  let last = (await receiverCounts()).spans;
  for (;;) {
    await new Promise((r) => setTimeout(r, 300));
    const now = (await receiverCounts()).spans;
    if (now === last || Date.now() > deadline) return { spans: now, polls };
    last = now;
  }
}

/** Spans and log records the service has dropped so far (`/health`), 0 when the SDK is disabled. */
async function telemetryDropped(serviceUrl: string): Promise<number> {
  const t = await telemetryOf(serviceUrl);
  return (t.spans_dropped ?? 0) + (t.log_records_dropped ?? 0);
}

/**
 * What a Deployment's kubelet does to a running pod (k8s/deployment.yaml: /readyz every 2 s, /livez every 10 s),
 * plus the bench's own /health poll, once a second in turn until stopped. Started with the service, it puts every
 * route the bench calls into the code V8 optimises during the warm-up (see P4 below and docs/PERFORMANCE.md, "How to
 * reproduce"). `sent` counts the requests answered so far (each one a span of the full service).
 */
function probes(serviceUrl: string): { sent(): number; stop(): Promise<void> } {
  let running = true;
  let tick = 0;
  let sent = 0;
  const done = (async () => {
    while (running) {
      tick++;
      for (const path of [tick % 2 ? '/readyz' : '/health', ...(tick % 10 === 0 ? ['/livez'] : [])]) {
        await fetch(serviceUrl + path).then((r) => r.arrayBuffer().then(() => sent++), () => undefined);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  return {
    sent: () => sent,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

// ---- variants ------------------------------------------------------------------------------------------------
const extraEnv = Object.fromEntries((flags.env ?? '').split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const ours = (env: Record<string, string>) => async (port: number) =>
  start(0, process.execPath, START, { API_PORT: String(port), DEFAULT_LATENCY_MS: '0', LOG_LEVEL: 'info', ...env, ...extraEnv }, `http://127.0.0.1:${port}/readyz`);
const fastapiAvailable = spawnSync(PYTHON, ['-c', 'import fastapi, uvicorn, uvloop, httptools']).status === 0;
const uvicorn = (loop: string, http: string) => async (port: number) =>
  start(0, PYTHON, ['-m', 'uvicorn', '--app-dir', 'scripts/peers', 'fastapi_app:app', '--host', '127.0.0.1', '--port', String(port), '--loop', loop, '--http', http, '--no-access-log', '--log-level', 'warning'], {}, `http://127.0.0.1:${port}/readyz`);
const VARIANTS: Record<VariantName, { label: string; start: (port: number) => Promise<Proc>; available: boolean }> = {
  full: { label: 'ours, full telemetry (OTLP gRPC, 100 % sampled, logs exported)', start: ours({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${ports.grpc}` }), available: true },
  disabled: { label: 'ours, OTEL_SDK_DISABLED=true', start: ours({ OTEL_SDK_DISABLED: 'true' }), available: true },
  plain: { label: 'plain node:http, same JSON work, no telemetry', start: async (port) => start(0, process.execPath, ['scripts/peers/plain-server.ts', String(port)], {}, `http://127.0.0.1:${port}/readyz`), available: true },
  'fastapi-uvloop': { label: 'FastAPI + uvicorn (uvloop, httptools), no telemetry', start: uvicorn('uvloop', 'httptools'), available: fastapiAvailable },
  fastapi: { label: 'FastAPI + uvicorn (asyncio, h11), no telemetry', start: uvicorn('asyncio', 'h11'), available: fastapiAvailable },
};
const selected = (flags.variants?.split(',') ?? Object.keys(VARIANTS)) as VariantName[];

interface Sample {
  rps: number;
  cpuUsPerReq: number;
  p50: number;
  p99: number;
  rssMb: number;
  failed: number;
  delivered?: number;
  wrkRps?: number | null;
  clientSaturated: boolean;
}
const samples = new Map<VariantName, Sample[]>();
const MIN_CORE_SHARE = 0.85;
/** Windows measured again because the server was not saturated. */
const remeasured: string[] = [];

async function measure(name: VariantName, round: number): Promise<void> {
  const port = await freePort();
  const server = await VARIANTS[name].start(port);
  const url = `http://127.0.0.1:${port}`;
  // Probed from the start, as in P4 and as a kubelet does: otherwise the full service meets its first GETs (the span
  // settle's /health polls) between the warm-up and the window, and V8 recompiles its request path inside the window.
  const prober = probes(url);
  try {
    await load(url, ['--duration', `${WARMUP_S}s`, '--concurrency', String(CONCURRENCY)]);
    let s: LoadSummary;
    let cpuUs: number;
    let spansBefore: number;
    let endedBefore = 0;
    // Throughput at saturation means the server's core is busy. A window in which the server used less than
    // MIN_CORE_SHARE of it measured the load side (the generator shares its core with the receiver): it is measured
    // again, at most twice, and the report counts such windows.
    for (let attempt = 0; ; attempt++) {
      if (name === 'full') await settledSpans(url);
      spansBefore = (await receiverCounts()).spans;
      if (name === 'full') endedBefore = (await telemetryOf(url)).spans_ended ?? 0;
      const cpuBefore = cpuTicks(server.pid);
      s = await load(url, ['--duration', `${SECONDS}s`, '--concurrency', String(CONCURRENCY)]);
      cpuUs = ((cpuTicks(server.pid) - cpuBefore) / CLK_TCK) * 1e6;
      const share = cpuUs / (s.durationMs * 1000); // the generator's start-up and exit are outside its window
      // Not for plain node:http, which one load generator core cannot saturate: its figure is a lower bound, and no
      // target uses it.
      if (share >= MIN_CORE_SHARE || attempt === 2 || name === 'plain') break;
      remeasured.push(`${name} round ${round + 1}: ${Math.round(s.rate.actual)} req/s with the server at ${(share * 100).toFixed(0)} % of its core`);
      process.stderr.write(`  round ${round + 1} ${name}: server at ${(share * 100).toFixed(0)} % of its core (${Math.round(s.rate.actual)} req/s): the load side limited it, measured again\n`);
    }
    const sample: Sample = {
      rps: s.rate.actual,
      cpuUsPerReq: cpuUs / Math.max(1, s.requests.successful),
      p50: s.latencyMs.p50,
      p99: s.latencyMs.p99,
      rssMb: rssMb(server.pid),
      failed: s.requests.failed,
      clientSaturated: s.client.saturated,
    };
    if (name === 'full') {
      // Expected: every span the service ended meanwhile (/health counts them), whatever the batching made of the
      // requests (a batch span per model call, a queue span per request that waited); a poll's own span ends after
      // its answer, so about one either way.
      await settledSpans(url);
      const endedAfter = (await telemetryOf(url)).spans_ended ?? 0;
      sample.delivered = ((await receiverCounts()).spans - spansBefore) / Math.max(1, endedAfter - endedBefore);
    }
    if (round === 0) sample.wrkRps = wrk(url, quick ? 1 : Math.max(2, Math.round(SECONDS / 2)));
    samples.set(name, [...(samples.get(name) ?? []), sample]);
    process.stderr.write(`  round ${round + 1} ${name}: ${Math.round(sample.rps)} req/s, ${sample.cpuUsPerReq.toFixed(1)} us CPU/req${sample.delivered !== undefined ? `, spans delivered ${(sample.delivered * 100).toFixed(2)} %` : ''}\n`);
  } finally {
    await prober.stop();
    await server.stop();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (x: number, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

const row = (name: VariantName) => {
  const s = samples.get(name);
  if (!s) return `| ${VARIANTS[name].label} | skipped: ${VARIANTS[name].available ? 'not selected' : `needs Debian's python3-fastapi python3-uvicorn python3-uvloop python3-httptools`} | | | | | | |`;
  const rps = s.map((x) => x.rps);
  const wrkRps = s.find((x) => x.wrkRps)?.wrkRps;
  const delivered = s.filter((x) => x.delivered !== undefined).map((x) => x.delivered!);
  return `| ${VARIANTS[name].label} | ${fmt(median(rps))} (${fmt(Math.min(...rps))}-${fmt(Math.max(...rps))}) | ${wrkRps ? fmt(wrkRps) : '-'} | ${fmt(median(s.map((x) => x.cpuUsPerReq)), 1)} | ${fmt(median(s.map((x) => x.p50)), 2)} / ${fmt(median(s.map((x) => x.p99)), 2)} | ${fmt(median(s.map((x) => x.rssMb)))} | ${delivered.length ? `${fmt(Math.min(...delivered) * 100, 2)} %` : '-'} | ${s.reduce((n, x) => n + x.failed, 0)} |`;
};

/**
 * Dynamic batching. B1: 100 ms of simulated model time per executed batch, an open-model load of 300 req/s,
 * MAX_BATCH_SIZE=32 against MAX_BATCH_SIZE=1 at equal limits (one batch at a time, 64 requests queued at most):
 * requests answered per second and the p99 of the batched service. B2: no simulated time, closed model at
 * saturation: what batching alone buys (or costs) around the model call.
 */
async function batching(): Promise<{ lines: string[]; target: [string, string, boolean] }> {
  const seconds = quick ? 2 : 10;
  const limits = { MODEL_CONCURRENCY: '1', MAX_QUEUE: '64', LATENCY_JITTER_MS: '0', OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${ports.grpc}` };
  const run = async (env: Record<string, string>, loadArgs: string[]) => {
    const port = await freePort();
    const server = await ours({ ...limits, ...env })(port);
    try {
      const s = await load(`http://127.0.0.1:${port}`, loadArgs);
      return { served: s.requests.successful / (s.durationMs / 1000), p99: s.latencyMs.p99, refused: s.statusCodes['503'] ?? 0 };
    } finally {
      await server.stop();
    }
  };
  // At 300 req/s the batched service runs at 94 % of its 320 req/s: a backlog left by the cold start drains at only
  // 20 req/s, so the warm-up is long enough to leave none in the window.
  const open = ['--rate', '300', '--duration', `${seconds}s`, '--warmup', quick ? '1s' : '5s', '--concurrency', '1024'];
  const b1 = { off: await run({ DEFAULT_LATENCY_MS: '100', MAX_BATCH_SIZE: '1' }, open), on: await run({ DEFAULT_LATENCY_MS: '100', MAX_BATCH_SIZE: '32' }, open) };
  const closed = ['--duration', `${seconds}s`, '--warmup', quick ? '1s' : '2s', '--concurrency', '64'];
  const b2 = { off: await run({ DEFAULT_LATENCY_MS: '0', MAX_BATCH_SIZE: '1' }, closed), on: await run({ DEFAULT_LATENCY_MS: '0', MAX_BATCH_SIZE: '32' }, closed) };
  const ratio1 = b1.on.served / b1.off.served;
  const ratio2 = b2.on.served / b2.off.served;
  return {
    lines: [
      `B1 (100 ms per batch, 300 req/s open model, MODEL_CONCURRENCY=1, MAX_QUEUE=64, ${seconds} s): MAX_BATCH_SIZE=1 answered ${fmt(b1.off.served, 1)} req/s (${b1.off.refused} refused with 503), MAX_BATCH_SIZE=32 ${fmt(b1.on.served, 1)} req/s (${b1.on.refused} refused), p99 ${fmt(b1.on.p99, 1)} ms.`,
      `B2 (no simulated time, closed model, 64 connections, MODEL_CONCURRENCY=1, ${seconds} s): MAX_BATCH_SIZE=1 ${fmt(b2.off.served)} req/s (${b2.off.refused} refused), MAX_BATCH_SIZE=32 ${fmt(b2.on.served)} req/s (${b2.on.refused} refused): ${ratio2.toFixed(2)}x.`,
    ],
    target: ['B1', `batched / unbatched throughput = ${ratio1.toFixed(1)}x (target >= 25x), batched p99 = ${fmt(b1.on.p99 / 100, 2)}x the batch time (target <= 2x)`, ratio1 >= 25 && b1.on.p99 <= 200],
  };
}

if (flags.batching) {
  try {
    const { lines, target } = await batching();
    console.log([...lines, `${target[0]} ${target[2] ? 'PASS' : 'FAIL'}  ${target[1]}`].join('\n'));
  } finally {
    await receiver.stop();
  }
  process.exit(0);
}

try {
  process.stderr.write(`bench: ${ROUNDS} round(s) x ${SECONDS} s, warm-up ${WARMUP_S} s, ${CONCURRENCY} connections, taskset ${hasTaskset ? 'on' : 'off (not installed)'}\n`);
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of selected) if (VARIANTS[name].available) await measure(name, round);
  }

  if (SKIP_TARGETS) {
    console.log(['| variant | req/s median (min-max) | wrk req/s | CPU us/req | p50 / p99 ms | RSS MB | spans delivered | failed |', '|---|---|---|---|---|---|---|---|', ...selected.map(row)].join('\n'));
    console.log(`(partial run: --variants ${flags.variants}${flags.env ? `, --env ${flags.env}` : ''}; node ${nodeFlags.join(' ') || '(no flags)'}; no targets judged)`);
  } else {
  // P5: RSS over a long run at saturation with full telemetry; flat means the second half does not climb.
  const rssTrace: number[] = [];
  {
    const port = await freePort();
    const server = await VARIANTS.full.start(port);
    const timer = setInterval(() => rssTrace.push(rssMb(server.pid)), 1000);
    try {
      await load(`http://127.0.0.1:${port}`, ['--duration', `${SOAK_S}s`, '--concurrency', String(CONCURRENCY)]);
    } finally {
      clearInterval(timer);
      await server.stop();
    }
  }

  // P6: from spawn to readiness true (GET /readyz answers 200), median of 3.
  const readyMs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const t0 = performance.now();
    const [c, a] = pinned(0, process.execPath, START);
    const child = spawn(c, a, { cwd: ROOT, env: { PATH: process.env.PATH ?? '', API_PORT: String(port), OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${ports.grpc}` }, stdio: 'ignore' });
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false);
      if (ok) break;
      if (performance.now() - t0 > 10_000) throw new Error('not ready within 10 s');
      await new Promise((r) => setTimeout(r, 5));
    }
    readyMs.push(performance.now() - t0);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }

  // P4: added latency at a fixed 1,000 req/s (open model), full telemetry vs disabled. A p99 at 1,000 req/s rests
  // on about 10 requests a second, and this machine alone moves it by milliseconds, so the pair runs ROUNDS times,
  // interleaved, for P4_S seconds each, and the medians are compared. What measured the bench rather than the
  // service, and is kept out (measured by hand with `node --trace-opt --trace-deopt --trace-gc`):
  // - the JIT: V8 compiles the request path with TurboFan on threads that share the service's one core, and each
  //   burst (routeHandler 21-36 ms, startRequest 17-37 ms, endRequest 17-21 ms of compiling) stalls the event loop.
  //   A running service has done this; the bench must not make it happen again in the window. It did: the first
  //   GET /health from the bench after a warm-up of POSTs only deoptimised parserOnIncoming, routeHandler,
  //   startRequest and endRequest ("wrong map"), recompiled 10-15 s later, in the window; a new load generator
  //   process, on new connections, had parserOnIncoming and the stream read path recompiled in the window, and was
  //   compiling itself (schedule lag p99 1.4-2.8 ms, 0.1-0.5 ms warm). So a probe loop (the Deployment's probes plus
  //   a /health poll) runs from the start, each round warms up at saturation, then one generator process warms up
  //   15 s at 1,000 req/s and measures on the same connections;
  // - the receiver: on the load generator's core its work on each export delays the generator, which the open model
  //   counts as latency of the full variant only. Ahead of the generator (as for P2) the generator sent late
  //   (schedule lag p99 1.87-2.82 against 1.24-1.79 ms); below it at nice 19 the generator, which spins between
  //   sends to time them exactly, still lost its core to it in slices: its event-loop delay p99 0.64-0.79 ms against
  //   0.08-0.15 ms and the full service's p99 2.50, 3.37, 3.82 ms, against 1.20, 1.61, 1.48 ms with the receiver on
  //   the service's core under SCHED_IDLE (three interleaved pairs by hand). SCHED_IDLE runs it only when nothing
  //   else wants core 0, and the service preempts it at once: it takes the idle time a Collector on another
  //   machine would not, and cannot delay the generator. The saturating warm-up starves it, so each round waits
  //   for the export queue to drain, and the P4 line reports the spans and log records dropped meanwhile (0
  //   expected). Without taskset or chrt it stays on core 1 at nice 19. The bench itself (its probes and polls)
  //   moves to core 1 too.
  const receiverIdle = hasTaskset && spawnSync('chrt', ['-a', '-i', '-p', '0', String(receiver.pid)], { stdio: 'ignore' }).status === 0;
  if (receiverIdle) spawnSync('taskset', ['-a', '-p', '-c', '0', String(receiver.pid)], { stdio: 'ignore' });
  else os.setPriority(receiver.pid, 19);
  if (hasTaskset) spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  const p4Detail: Record<'full' | 'disabled', LoadSummary[]> = { full: [], disabled: [] };
  let p4Dropped = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of ['full', 'disabled'] as const) {
      const port = await freePort();
      const server = await VARIANTS[name].start(port);
      const url = `http://127.0.0.1:${port}`;
      const prober = probes(url);
      try {
        await load(url, ['--duration', `${quick ? 1 : 5}s`, '--concurrency', String(CONCURRENCY)], 0);
        if (name === 'full' && !quick) await settledSpans(url);
        const droppedBefore = await telemetryDropped(url);
        const s = await load(url, ['--warmup', `${quick ? 1 : 15}s`, '--duration', `${P4_S}s`, '--rate', '1000', '--concurrency', '64'], 0);
        p4Dropped += (await telemetryDropped(url)) - droppedBefore;
        p4Detail[name].push(s);
      } finally {
        await prober.stop();
        await server.stop();
      }
    }
  }
  const p4Runs = { full: p4Detail.full.map((x) => x.latencyMs.p99), disabled: p4Detail.disabled.map((x) => x.latencyMs.p99) };
  const p4 = { full: median(p4Runs.full), disabled: median(p4Runs.disabled) };

  // ---- report --------------------------------------------------------------------------------------------------
  const lines = [
    `Machine: ${os.cpus().length} cores, Node ${process.version}, ${new Date().toISOString()}; server on core 0, load generator and receiver on core 1${hasTaskset ? '' : ' (taskset missing: not pinned)'}; for P4 the receiver ${receiverIdle ? 'on core 0 under SCHED_IDLE' : 'at nice 19'}.`,
    `${ROUNDS} round(s) of ${SECONDS} s per variant after ${WARMUP_S} s of warm-up, closed model, ${CONCURRENCY} connections, POST /predict {"features":[0.5,1.5,2.0]}, no simulated latency.`,
    '',
    '| variant | req/s median (min-max) | wrk req/s | CPU us/req | p50 / p99 ms | RSS MB | spans delivered | failed |',
    '|---|---|---|---|---|---|---|---|',
    ...selected.map(row),
    '',
    ...(remeasured.length > 0 ? [`Windows measured again because the server used less than ${MIN_CORE_SHARE * 100} % of its core (the load side limited it): ${remeasured.join('; ')}.`, ''] : []),
  ];
  const med = (n: VariantName) => median((samples.get(n) ?? []).map((x) => x.rps));
  const targets: [string, string, boolean | null][] = [];
  const p1 = med('full') / med('disabled');
  targets.push(['P1', `full telemetry / SDK disabled throughput = ${p1.toFixed(2)}x (target >= 0.5x)`, p1 >= 0.5]);
  const delivered = (samples.get('full') ?? []).map((x) => x.delivered ?? 0);
  const minDelivered = delivered.length ? Math.min(...delivered) : 0;
  targets.push(['P2', `spans of answered requests delivered at saturation = ${(minDelivered * 100).toFixed(2)} % (worst round; target >= 99.9 %)`, minDelivered >= 0.999]);
  if (samples.has('fastapi-uvloop')) {
    const p3 = med('full') / med('fastapi-uvloop');
    targets.push(['P3', `full telemetry / FastAPI+uvicorn(uvloop, httptools) throughput = ${p3.toFixed(2)}x (target >= 2x)`, p3 >= 2]);
  } else targets.push(['P3', 'skipped: FastAPI peers not installed (apt-get install python3-fastapi python3-uvicorn python3-uvloop python3-httptools)', null]);
  const p4diff = p4.full - p4.disabled;
  const runs = (xs: number[]) => xs.map((x) => fmt(x, 2)).join(', ');
  targets.push(['P4', `p99 at 1,000 req/s (${P4_S} s per round, median of ${ROUNDS}): full ${fmt(p4.full, 2)} ms (${runs(p4Runs.full)}), disabled ${fmt(p4.disabled, 2)} ms (${runs(p4Runs.disabled)}), difference ${fmt(p4diff, 2)} ms (target < 1 ms; p99 from the actual send: full ${fmt(median(p4Detail.full.map((x) => x.serviceTimeMs.p99)), 2)}, disabled ${fmt(median(p4Detail.disabled.map((x) => x.serviceTimeMs.p99)), 2)} ms; spans and log records dropped while the generator ran: ${p4Dropped})`, p4diff < 1]);
  // The target reads "after 60 s at saturation, RSS < 200 MB and flat over the second half": judged on the second
  // half; the peak of the whole run (start-up and the first seconds at saturation included) is printed too.
  const half = rssTrace.slice(Math.floor(rssTrace.length / 2));
  const maxRss = Math.max(...rssTrace);
  const maxHalf = Math.max(...half);
  const growth = half.length > 1 ? half[half.length - 1]! - half[0]! : 0;
  targets.push(['P5', `RSS over ${SOAK_S} s at saturation: second half ${fmt(half[0] ?? NaN)} -> ${fmt(half[half.length - 1] ?? NaN)} MB, max ${fmt(maxHalf)} MB (peak of the whole run ${fmt(maxRss)} MB; target < 200 MB and flat: growth < 10 %)`, maxHalf < 200 && growth < 0.1 * (half[0] ?? 1)]);
  const ready = median(readyMs);
  targets.push(['P6', `ready ${fmt(ready)} ms after spawn (median of 3; target < 1,500 ms)`, ready < 1500]);
  const batched = await batching();
  lines.push(...batched.lines, '');
  targets.push(batched.target);
  for (const [id, text, ok] of targets) lines.push(`${id} ${ok === null ? 'SKIP' : ok ? 'PASS' : 'FAIL'}  ${text}`);
  if (quick) lines.push('', '(--quick: one short round; the figures are a smoke test, not a measurement)');
  const report = lines.join('\n');
  console.log(report);
  if (flags.out) writeFileSync(flags.out, JSON.stringify({ samples: Object.fromEntries(samples), p4, p4Runs, p4Detail, rssTrace, readyMs, report }, null, 2));
  }
} finally {
  await receiver.stop();
}
