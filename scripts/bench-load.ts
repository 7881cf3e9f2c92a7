// Benchmark of the load generator against its peers (not a test: it prints ratios, it does not assert).
// A plain node:http target runs pinned to core 0 and each generator to core 1 (when taskset exists), one at a time:
//   1. max throughput, closed model, 10 connections: ours vs autocannon vs wrk (req/s)
//   2. rate accuracy at a target of 2,000 req/s
//   3. p50 at 100 ms service time and rate 50: ours vs wrk (and autocannon -R, which under-reports it)
//   4. overload: target 200 req/s against 10 connections x 100 ms = 100 req/s of capacity
// Usage: npm run bench:load [-- --seconds 3 --rounds 5 --only throughput]
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '3' }, rounds: { type: 'string', default: '5' }, only: { type: 'string' } },
});
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const ONLY_THROUGHPUT = values.only === 'throughput';
const BODY = '{"features":[0.5,1.5,2.0]}';
const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const TASKSET = has('taskset');
const WRK = has('wrk');
const pinned = (core: number, cmd: string[]): string[] => (TASKSET ? ['taskset', '-c', String(core), ...cmd] : cmd);

// The target: answers POST /predict after DELAY ms (0: at once) with a small JSON body carrying a trace id.
const TARGET = `
const http = require('node:http');
const delay = Number(process.env.DELAY);
let n = 0;
const reply = (res) => { const id = (++n).toString(16).padStart(32, '0');
  const body = '{"prediction":4.0,"model_name":"simple-linear-demo","latency_ms":' + delay + ',"trace_id":"' + id + '"}';
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body); };
http.createServer((req, res) => { req.resume(); req.on('end', () => delay > 0 ? setTimeout(reply, delay, res) : reply(res)); })
  .listen(0, '127.0.0.1', function () { console.log(this.address().port); });
`;

async function startTarget(delayMs: number): Promise<{ url: string; proc: ChildProcess }> {
  const [cmd, ...args] = pinned(0, [process.execPath, '-e', TARGET]);
  const proc = spawn(cmd as string, args, { env: { ...process.env, DELAY: String(delayMs) }, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve) => proc.stdout?.once('data', (d: Buffer) => resolve(d.toString().trim())));
  return { url: `http://127.0.0.1:${port}`, proc };
}

function run(cmd: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const [file, ...args] = pinned(1, cmd);
    execFile(file as string, args, { maxBuffer: 64 * 1024 * 1024, timeout: 120_000 }, (err, stdout, stderr) => {
      // Our CLI exits 1 on a violated SLO; no SLO is given here, so any error is real.
      if (err) reject(new Error(`${cmd.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

interface Ours {
  rate: { actual: number; send: number | null };
  requests: { sent: number; late: number; dropped: number; failed: number };
  latencyMs: { p50: number; p99: number };
  serviceTimeMs: { p50: number };
  client: { cpuPercent: number; saturated: boolean };
}

async function ours(url: string, args: string[]): Promise<Ours> {
  const out = await run([process.execPath, join(root, 'src/load/cli.ts'), '--url', url, '--json', '--quiet', ...args]);
  return JSON.parse(out) as Ours;
}

interface Autocannon {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
}

async function autocannon(url: string, args: string[]): Promise<Autocannon> {
  const bin = join(root, 'node_modules/autocannon/autocannon.js');
  const out = await run([process.execPath, bin, '-j', '-m', 'POST', '-H', 'content-type=application/json', '-b', BODY, ...args, `${url}/predict`]);
  return JSON.parse(out) as Autocannon;
}

async function wrk(url: string, connections: number, seconds: number, script: string): Promise<{ rps: number; p50: number }> {
  const out = await run(['wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', script, `${url}/predict`]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const m = /^\s+50%\s+([\d.]+)(us|ms|s)\s*$/m.exec(out);
  const scale: Record<string, number> = { us: 0.001, ms: 1, s: 1000 };
  return { rps, p50: m ? Number(m[1]) * (scale[m[2] ?? 'ms'] ?? 1) : Number.NaN };
}

const f = (n: number, d = 1): string => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'bench-load-'));
  const lua = join(tmp, 'post.lua');
  writeFileSync(lua, `wrk.method = "POST"\nwrk.body = '${BODY}'\nwrk.headers["Content-Type"] = "application/json"\n`);
  const fast = await startTarget(0);
  const slow = await startTarget(100);
  console.log(`node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, taskset: ${TASKSET ? 'target core 0, generators core 1' : 'not available (unpinned)'}, wrk: ${WRK ? 'yes' : 'not installed'}, ${SECONDS} s per run\n`);
  try {
    // 1. Max throughput: ROUNDS rounds, each running ours, autocannon and wrk back to back, so that load from
    // elsewhere on a small machine tends to hit a round's runs alike. The ratio is taken per round; its median and
    // range are the figures to quote.
    const rounds: { ours: number; autocannon: number; wrk: number; cpu: number }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const o1 = await ours(fast.url, ['--concurrency', '10', '--duration', `${SECONDS}s`]);
      const a1 = await autocannon(fast.url, ['-c', '10', '-d', String(SECONDS)]);
      const w1 = WRK ? (await wrk(fast.url, 10, SECONDS, lua)).rps : Number.NaN;
      rounds.push({ ours: o1.rate.actual, autocannon: a1.requests.average, wrk: w1, cpu: o1.client.cpuPercent });
    }
    const ratios = rounds.map((r) => r.ours / r.autocannon);
    console.log(`1. Max throughput (closed model, 10 connections, POST /predict, 0 ms target; ${ROUNDS} interleaved rounds)`);
    for (const [i, r] of rounds.entries()) {
      console.log(`   round ${i + 1}: ours ${f(r.ours, 0)} req/s (CPU ${f(r.cpu, 0)}%), autocannon ${f(r.autocannon, 0)}${WRK ? `, wrk ${f(r.wrk, 0)}` : ''} -> ${f(ratios[i] as number, 2)}`);
    }
    const m = (key: 'ours' | 'autocannon' | 'wrk'): number => median(rounds.map((r) => r[key]));
    console.log(`   median: ours ${f(m('ours'), 0)} req/s, autocannon ${f(m('autocannon'), 0)} req/s${WRK ? `, wrk ${f(m('wrk'), 0)} req/s` : ''}`);
    console.log(`   ratio ours/autocannon per round: median ${f(median(ratios), 2)}, range ${f(Math.min(...ratios), 2)}-${f(Math.max(...ratios), 2)} (goal >= 0.8)${WRK ? `; ours/wrk median ${f(median(rounds.map((r) => r.ours / r.wrk)), 2)}` : ''}\n`);
    if (ONLY_THROUGHPUT) return;

    // 2. Rate accuracy.
    const o2 = await ours(fast.url, ['--rate', '2000', '--concurrency', '50', '--duration', `${SECONDS}s`]);
    const send = o2.rate.send ?? Number.NaN;
    console.log('2. Rate accuracy (target 2,000 req/s, open model, 50 connections)');
    console.log(`   send rate ${f(send)} req/s, completed ${f(o2.rate.actual)} req/s, late ${o2.requests.late}, dropped ${o2.requests.dropped}`);
    console.log(`   ratio send/target = ${f(send / 2000, 4)} (error ${f(Math.abs(send / 2000 - 1) * 100, 2)} %, goal <= 1 %)\n`);

    // 3. p50 at 100 ms service time.
    const o3 = await ours(slow.url, ['--rate', '50', '--concurrency', '10', '--duration', `${SECONDS + 1}s`]);
    const a3 = await autocannon(slow.url, ['-c', '10', '-R', '50', '-d', String(SECONDS + 1)]);
    const w3 = WRK ? await wrk(slow.url, 10, SECONDS + 1, lua) : null;
    console.log('3. p50 at 100 ms service time (ours and autocannon at rate 50; wrk has no rate: 10 connections back to back)');
    console.log(`   ours p50 ${f(o3.latencyMs.p50, 2)} ms (service time ${f(o3.serviceTimeMs.p50, 2)} ms)${w3 ? `, wrk p50 ${f(w3.p50, 2)} ms` : ''}, autocannon -R 50 p50 ${f(a3.latency.p50, 2)} ms`);
    if (w3) console.log(`   |ours - wrk| = ${f(Math.abs(o3.latencyMs.p50 - w3.p50), 2)} ms (goal <= 2 ms)`);
    console.log(`   autocannon/true = ${f(a3.latency.p50 / o3.serviceTimeMs.p50, 2)}\n`);

    // 4. Overload.
    const o4 = await ours(slow.url, ['--rate', '200', '--concurrency', '10', '--duration', `${SECONDS}s`]);
    const a4 = await autocannon(slow.url, ['-c', '10', '-R', '200', '-d', String(SECONDS)]);
    console.log('4. Overload (target 200 req/s, capacity 10 connections x 100 ms = 100 req/s)');
    console.log(`   ours: send rate ${f(o4.rate.send ?? Number.NaN)} req/s, completed ${f(o4.rate.actual)} req/s, late ${o4.requests.late}, dropped ${o4.requests.dropped}, p50 ${f(o4.latencyMs.p50)} ms (service time ${f(o4.serviceTimeMs.p50)} ms), p99 ${f(o4.latencyMs.p99)} ms`);
    console.log(`   autocannon -R 200: ${f(a4.requests.average)} req/s, p50 ${f(a4.latency.p50)} ms, p99 ${f(a4.latency.p99)} ms (no shortfall reported)`);
    console.log(`   achieved/target = ${f((o4.rate.send ?? 0) / 200, 2)}`);
  } finally {
    fast.proc.kill();
    slow.proc.kill();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
