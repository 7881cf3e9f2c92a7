// Three replicas of the service (the production command, loopback ports) export to one receiver; the load
// generator spreads one run across them and, a quarter of the way in, one replica gets SIGTERM as a rolling update
// sends it. The run completes with no failed request: the draining replica answers what it gets with
// `Connection: close`, the generator backs off from it before its listener closes, and the connections it then
// refuses (nothing sent) are resent to the other two. Every trace reaches the receiver, whichever replica served it.
// Needs `npm run build` (the replicas run dist/).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Summary } from '../../src/load/aggregate.ts';
import { OtlpReceiver } from '../../src/receiver/receiver.ts';
import { fastExportEnv, startService, type RunningService } from '../helpers/service.ts';

const CLI = fileURLToPath(new URL('../../src/load/cli.ts', import.meta.url));

describe('a rolling stop of one of three replicas under load (60 req/s for 8 s, 2 s drain delay)', () => {
  const o = { rate: 60, seconds: 8, shutdownDelayMs: 2_000, killAfterFraction: 0.25, killed: 1 };
  const planned = o.rate * o.seconds;
  const receiver = new OtlpReceiver({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, healthPort: 0, print: false });
  let replicas: RunningService[] = [];
  let summary: Summary;
  let code = -1;
  let stderr = '';
  let receivedBeforeKill = 0;
  let killedExit: number | null = null;

  const received = (svc: RunningService): number => svc.logLines().filter((l) => l.msg === 'Prediction request received').length;

  before(async () => {
    await receiver.start();
    const env = { ...fastExportEnv(receiver.grpcUrl), SHUTDOWN_DELAY_MS: String(o.shutdownDelayMs), SHUTDOWN_TIMEOUT_MS: '8000' };
    replicas = await Promise.all([0, 1, 2].map(() => startService(env, { timeoutMs: 30_000 })));

    const args = [
      ...replicas.flatMap((r) => ['--url', r.url]),
      ...['--duration', `${o.seconds}s`, '--rate', String(o.rate), '--concurrency', '8', '--timeout', '15s'],
      ...['--propagate', '--verify-traces', receiver.httpUrl, '--verify-wait', '2s', '--json', '--quiet'],
    ];
    const run = new Promise<void>((resolve) =>
      execFile(process.execPath, [CLI, ...args], { timeout: 90_000 }, (err, stdout, err2) => {
        code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        stderr = err2;
        try {
          summary = JSON.parse(stdout) as Summary;
        } catch {
          stderr += `\nstdout was not JSON: ${stdout.slice(0, 500)}`;
        }
        resolve();
      }),
    );

    // Midway: once the replicas together have received a quarter of the run, bounded by the run's own length.
    const deadline = Date.now() + 60_000;
    while (replicas.reduce((n, r) => n + received(r), 0) < planned * o.killAfterFraction && Date.now() < deadline) await sleep(50);
    receivedBeforeKill = replicas.reduce((n, r) => n + received(r), 0);
    const victim = replicas[o.killed]!;
    victim.proc.kill('SIGTERM');
    killedExit = await victim.exited;
    await run;
    console.log(
      `FIGURE rolling-update: exit ${code}, killed after ${receivedBeforeKill} received; ` +
        `per target ${JSON.stringify(summary?.targets.map((t) => ({ requests: t.requests, ok: t.successful, failed: t.failed, resent: t.retried, p99: t.latencyMs.p99 })))}; ` +
        `resent ${summary?.requests.retried}, delivered ${summary?.traces.delivery?.delivered}/${summary?.traces.delivery?.queried}`,
    );
  });

  after(async () => {
    await Promise.all(replicas.map((r) => r.stop('SIGKILL')));
    await receiver.stop();
  });

  test('the run completes and no request the client sent fails', () => {
    assert.equal(code, 0, stderr);
    assert.equal(summary.interrupted, false);
    assert.ok(summary.requests.sent >= planned * 0.9, `only ${summary.requests.sent} of ${planned} sent`);
    assert.equal(summary.requests.failed, 0, JSON.stringify(summary.errors));
    assert.equal(summary.requests.successful, summary.requests.sent);
    assert.deepEqual(summary.errors, { timeout: 0, refused: 0, reset: 0, '4xx': 0, '5xx': 0, otherStatus: 0, other: 0 });
  });

  test('the stopped replica exits 0, having answered every request it received', () => {
    assert.equal(killedExit, 0);
    const killed = summary.targets[o.killed]!;
    assert.equal(received(replicas[o.killed]!), killed.successful);
  });

  test('the stopped replica stopped taking traffic: its later requests were refused before sending and resent, and the others took the rest', () => {
    const [a, killed, b] = [summary.targets[0]!, summary.targets[o.killed]!, summary.targets[2]!];
    assert.ok(killed.successful < Math.min(a.successful, b.successful) * 0.8, JSON.stringify(summary.targets));
    assert.ok(killed.successful >= (receivedBeforeKill / 3) * 0.8, `it served its share before SIGTERM: ${killed.successful}`);
    assert.equal(killed.requests, killed.successful + killed.retried, 'every request dispatched to it was answered or refused and resent');
    assert.ok(killed.retried > 0, 'no connection to the stopped replica was refused and resent');
    assert.equal(summary.requests.retried, killed.retried);
    assert.equal(a.retried + b.retried, 0);
    assert.equal(a.successful + killed.successful + b.successful, summary.requests.sent);
  });

  test('the trace audit finds every trace at the one receiver, whichever replica served it', () => {
    const d = summary.traces.delivery;
    assert.ok(d !== null && d.error === null, JSON.stringify(d));
    assert.equal(summary.traces.unique, summary.requests.sent);
    assert.equal(d.queried, summary.requests.sent);
    assert.equal(d.delivered, d.queried, `missing: ${d.missing.slice(0, 5).join(', ')}`);
  });
});
