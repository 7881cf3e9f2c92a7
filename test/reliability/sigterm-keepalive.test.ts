// SIGTERM while kept-alive clients keep sending, as the clients of a Deployment being rolled do: their connections
// stay pinned to the terminating pod. Every request that reaches the service is answered 2xx; from SIGTERM on the
// answers carry `Connection: close`, so each client opens its next connection elsewhere. Once the listener has
// closed, those connection attempts are refused: nothing was sent, a real client retries them on another pod, and
// they are counted apart, not as answers. So is the occasional reset of a connection made just as the listener
// closed: the service never read its request, which its own request log shows. Here the client keeps dialling the
// same address; in Kubernetes new connections have gone to other pods by then. The process still exits 0 promptly,
// with an idle kept-alive connection swept.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { startService, type RunningService } from '../helpers/service.ts';

interface Outcome {
  sentAt: number;
  doneAt: number;
  status?: number;
  connection?: string;
  error?: string;
}

describe('SIGTERM with kept-alive clients sending through the drain (100 req/s on 8 connections, 50 ms model, 1 s drain delay)', () => {
  const o = { rate: 100, connections: 8, latencyMs: 50, beforeMs: 1_000, shutdownDelayMs: 1_000, shutdownTimeoutMs: 10_000 };
  let svc: RunningService | undefined;
  let pool: Pool | undefined;
  let idle: Socket | undefined;
  const outcomes: Outcome[] = [];
  let sigtermAt = 0;
  let drainSeenAt = 0; // the client's first 503 from /readyz: every request sent after it arrives while draining
  let idleClosedAt = 0;
  let exitCode: number | null = null;
  let exitedAt = 0;

  before(async () => {
    svc = await startService({
      OTEL_SDK_DISABLED: 'true',
      DEFAULT_LATENCY_MS: String(o.latencyMs),
      LATENCY_JITTER_MS: '0',
      SHUTDOWN_DELAY_MS: String(o.shutdownDelayMs),
      SHUTDOWN_TIMEOUT_MS: String(o.shutdownTimeoutMs),
    });
    const { url } = svc;
    let exited = false;
    void svc.exited.then((code) => {
      exited = true;
      exitCode = code;
      exitedAt = Date.now();
    });

    // A kept-alive connection that is answered once and then stays idle: the shutdown must not wait for it.
    const { port } = new URL(url);
    idle = connect(Number(port), '127.0.0.1');
    idle.on('error', () => {});
    idle.on('close', () => (idleClosedAt = Date.now()));
    const firstAnswer = new Promise((resolve) => idle!.once('data', resolve));
    idle.write('GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await firstAnswer;

    pool = new Pool(url, { connections: o.connections, pipelining: 1, keepAliveTimeout: 60_000 });
    const send = async (): Promise<void> => {
      const outcome: Outcome = { sentAt: Date.now(), doneAt: 0 };
      outcomes.push(outcome);
      try {
        const res = await pool!.request({
          path: '/predict',
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"features":[1,2,3]}',
        });
        await res.body.text();
        outcome.status = res.statusCode;
        outcome.connection = String(res.headers.connection ?? '');
      } catch (err) {
        outcome.error = (err as { code?: string }).code ?? String(err);
      }
      outcome.doneAt = Date.now();
    };

    // Open model at a steady rate, from before SIGTERM until the process has exited (bounded by the deadline).
    const start = Date.now();
    const stopBy = start + o.beforeMs + o.shutdownDelayMs + o.shutdownTimeoutMs + 2_000;
    const inFlight: Promise<void>[] = [];
    const sender = (async () => {
      for (let i = 0; !exited && Date.now() < stopBy; i++) {
        const wait = start + (i * 1000) / o.rate - Date.now();
        if (wait > 0) await sleep(wait);
        if (!exited) inFlight.push(send());
      }
    })();
    await sleep(o.beforeMs);
    sigtermAt = Date.now();
    svc.proc.kill('SIGTERM');
    while (drainSeenAt === 0 && !exited && Date.now() - sigtermAt < 5_000) {
      const res = await fetch(`${url}/readyz`).catch(() => undefined);
      if (res?.status === 503) drainSeenAt = Date.now();
      await res?.body?.cancel();
    }
    await sender;
    await Promise.all(inFlight);
    const summary = counts();
    console.log(
      `FIGURE sigterm-keepalive: sent ${outcomes.length}, answered ${JSON.stringify(summary.statuses)}, ` +
        `answers after the drain began ${summary.drainAnswers} (Connection: close on ${summary.drainClose}, ` +
        `${summary.afterClose} of them after the listener closed), ` +
        `refused connections ${summary.refused}, resets ${summary.reset}, other failures ${JSON.stringify(summary.other)}; ` +
        `requests the service received ${summary.received}; ` +
        `readiness 503 after ${drainSeenAt - sigtermAt} ms, idle connection closed after ${idleClosedAt - sigtermAt} ms, ` +
        `exit ${exitCode} after ${exitedAt - sigtermAt} ms`,
    );
  });

  after(async () => {
    idle?.destroy();
    await pool?.destroy();
    await svc?.stop('SIGKILL');
  });

  function counts() {
    const statuses: Record<string, number> = {};
    const other: Record<string, number> = {};
    let refused = 0;
    let reset = 0;
    for (const r of outcomes) {
      if (r.status !== undefined) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      else if (r.error === 'ECONNREFUSED') refused++;
      else if (r.error === 'ECONNRESET') reset++;
      else other[r.error!] = (other[r.error!] ?? 0) + 1;
    }
    const received = svc?.logLines().filter((l) => l.msg === 'Prediction request received').length ?? 0;
    const drain = outcomes.filter((r) => r.status !== undefined && r.sentAt >= drainSeenAt);
    const drainClose = drain.filter((r) => r.connection === 'close').length;
    // The listener closes SHUTDOWN_DELAY_MS after the service logged the drain (its clock is ours): the client's
    // readiness poll may see the drain late on a busy machine, and would place the close after the last answers.
    const drainLogged = svc?.logLines().find((l) => String(l.msg).startsWith('Received SIGTERM'));
    const listenerClosedAt = drainLogged ? Date.parse(String(drainLogged.time)) + o.shutdownDelayMs : Infinity;
    const afterClose = outcomes.filter((r) => r.status !== undefined && r.doneAt > listenerClosedAt).length;
    return { statuses, other, refused, reset, received, drainAnswers: drain.length, drainClose, afterClose };
  }

  test('every request that reached the service was answered 2xx, before and during the drain', () => {
    const answered = outcomes.filter((r) => r.status !== undefined);
    assert.ok(answered.length > o.rate * ((o.beforeMs + o.shutdownDelayMs) / 1000) * 0.8, `only ${answered.length} answered`);
    const non2xx = answered.filter((r) => r.status! < 200 || r.status! > 299);
    assert.deepEqual(non2xx, [], `non-2xx answers: ${JSON.stringify(counts().statuses)}`);
    // Requests in flight on kept-alive connections when the listener closed were answered too.
    assert.ok(counts().afterClose > 0, 'no answer after the listener closed');
  });

  test('every request the service received was answered, and none failed but at the listener close', () => {
    const { received, statuses, other } = counts();
    assert.equal(received, statuses['200'], 'a request the service read went unanswered');
    assert.deepEqual(other, {});
    const refused = outcomes.filter((r) => r.error === 'ECONNREFUSED');
    assert.ok(refused.length > 0, 'the client kept sending after the listener closed');
    for (const r of outcomes.filter((x) => x.error !== undefined)) {
      assert.ok(r.doneAt >= sigtermAt + o.shutdownDelayMs, `${r.error} ${r.doneAt - sigtermAt} ms after SIGTERM`);
    }
  });

  test('answers carry Connection: keep-alive before SIGTERM and Connection: close from the drain on', () => {
    const early = outcomes.filter((r) => r.status !== undefined && r.doneAt < sigtermAt);
    assert.ok(early.length > 50);
    assert.deepEqual(new Set(early.map((r) => r.connection)), new Set(['keep-alive']));
    assert.ok(drainSeenAt > 0, 'readiness never turned 503');
    const { drainAnswers, drainClose } = counts();
    assert.ok(drainAnswers > (o.rate * o.shutdownDelayMs) / 1000 / 2, `only ${drainAnswers} answers during the drain`);
    assert.equal(drainClose, drainAnswers);
  });

  test('the idle kept-alive connection is closed by the service when its listener closes', () => {
    assert.ok(idleClosedAt > 0, 'the idle connection was never closed');
    assert.ok(idleClosedAt >= sigtermAt + o.shutdownDelayMs, `closed ${idleClosedAt - sigtermAt} ms after SIGTERM`);
    assert.ok(idleClosedAt <= exitedAt);
  });

  test('the process exits 0 soon after the listener closes, far inside SHUTDOWN_DELAY_MS + SHUTDOWN_TIMEOUT_MS', () => {
    assert.equal(exitCode, 0);
    // Connections held open would keep app.close() waiting until the deadline, which exits 1.
    assert.ok(exitedAt - sigtermAt < o.shutdownDelayMs + 2_000, `exit after ${exitedAt - sigtermAt} ms`);
  });
});
