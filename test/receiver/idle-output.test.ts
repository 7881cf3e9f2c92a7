// `npm start` left idle must keep the terminal calm: the embedded receiver prints every metrics export, and the
// Node runtime metrics alone are hundreds of lines in the detailed layout. Needs `npm run build` (starts dist/).
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { freePort, startService, type RunningService } from '../helpers/service.ts';

const EXPORT = /\tinfo\t(Traces|Metrics|Logs)\t\{/;

/** The receiver's output (not the service's JSON log lines), one entry per export: its summary line and what follows. */
function exportsOf(output: string): { signal: string; lines: string[] }[] {
  const out: { signal: string; lines: string[] }[] = [];
  for (const line of output.split('\n')) {
    if (line.startsWith('{') || line === '') continue;
    const m = EXPORT.exec(line);
    if (m) out.push({ signal: m[1]!, lines: [line] });
    else out.at(-1)?.lines.push(line);
  }
  return out;
}

/** Runs the service idle for `ms` with a metrics export every 500 ms; returns its metrics exports. */
async function idle(env: Record<string, string>, ms: number, running: Set<RunningService>) {
  const svc = await startService({
    RECEIVER_GRPC_PORT: String(await freePort()),
    RECEIVER_HTTP_PORT: String(await freePort()),
    RECEIVER_HEALTH_PORT: String(await freePort()),
    OTEL_METRIC_EXPORT_INTERVAL: '500',
    ...env,
  });
  running.add(svc);
  await new Promise((r) => setTimeout(r, ms));
  assert.equal(await svc.stop('SIGINT'), 0);
  running.delete(svc);
  return exportsOf(svc.logs()).filter((e) => e.signal === 'Metrics');
}

describe('npm start left idle', () => {
  const running = new Set<RunningService>();
  after(async () => {
    for (const svc of running) await svc.stop('SIGKILL');
  });

  test('prints at most a few lines per metrics export by default, where detailed verbosity prints hundreds', async () => {
    const calm = await idle({}, 4_500, running);
    assert.ok(calm.length >= 6, `only ${calm.length} metrics exports in 4.5 s`);
    // Start-up shows in the first exports: the service's own metrics, the batchers' rows once the models have
    // loaded, the export counters taking in the start-up log records (and the last export may show the shutdown's).
    // Past the first half of the run, at rest, every export is one line per scope.
    const loud = calm.slice(1, -1).filter((e) => e.lines.length > 4);
    assert.ok(loud.length <= 2, `${loud.length} idle exports printed more than 4 lines:\n${loud.map((e) => e.lines.join('\n')).join('\n')}`);
    const atRest = calm.slice(Math.ceil(calm.length / 2), -1);
    assert.ok(atRest.length >= 2, `only ${atRest.length} exports at rest`);
    const loudAtRest = atRest.filter((e) => e.lines.length > 4);
    assert.deepEqual(loudAtRest.map((e) => e.lines.join('\n')), [], 'an export at rest printed more than 4 lines');

    const detailed = await idle({ RECEIVER_VERBOSITY: 'detailed' }, 1_500, running);
    assert.ok(detailed.length >= 1);
    assert.ok(Math.min(...detailed.map((e) => e.lines.length)) > 100, 'detailed prints every runtime data point');
  });
});
