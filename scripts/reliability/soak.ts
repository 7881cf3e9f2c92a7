// Scenario 6, soak (not in CI): the real service at a fraction of its model capacity for a long time, printing one
// line per window: latency, failures, RSS, the service's event-loop delay (its own nodejs.eventloop.delay.p99
// metric, exported to the receiver), and the span export counters. Ends with a FIGURE line and exit code 1 if RSS,
// event-loop delay or latency drifted.
//   npm run build && node scripts/reliability/soak.ts [--seconds 600 --interval 30 --latency 50 --concurrency 4 --load 0.5]
// Capacity is the model's: MODEL_CONCURRENCY / DEFAULT_LATENCY_MS (4 / 50 ms = 80 req/s by default, so 40 req/s).
import { OtlpReceiver } from '../../src/receiver/receiver.ts';
import { runLoad } from '../../src/load/engine.ts';
import { fastExportEnv, startService } from '../../test/helpers/service.ts';
import { figures, health, loadOptions, numberFlags, rssMiB } from './harness.ts';

const f = numberFlags(process.argv.slice(2), { seconds: 600, interval: 30, latency: 50, concurrency: 4, load: 0.5 });
const capacity = (f.concurrency! * 1000) / f.latency!;
const rate = capacity * f.load!;
const windows = Math.max(2, Math.round(f.seconds! / f.interval!));

// Keeps only the most recent 5,000 spans and metrics: memory of this process stays bounded over the soak.
const receiver = new OtlpReceiver({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, healthPort: 0, print: false, store: true, maxStored: 5_000 });
await receiver.start();
const svc = await startService(
  {
    ...fastExportEnv(receiver.grpcUrl),
    OTEL_BSP_SCHEDULE_DELAY: '1000',
    OTEL_METRIC_EXPORT_INTERVAL: String(Math.min(5_000, (f.interval! * 1000) / 2)),
    DEFAULT_LATENCY_MS: String(f.latency),
    MODEL_CONCURRENCY: String(f.concurrency),
    // Unbatched, so that capacity is MODEL_CONCURRENCY / latency (dynamic batching would multiply it).
    MAX_BATCH_SIZE: '1',
  },
  process.env.RELIABILITY_SERVICE_ROOT ? { root: process.env.RELIABILITY_SERVICE_ROOT } : {},
);

function eventLoopP99Ms(): number {
  for (let i = receiver.metrics.length - 1; i >= 0; i--) {
    const m = receiver.metrics[i]!;
    if (m.name === 'nodejs.eventloop.delay.p99' && m.dataPoints[0]?.value !== undefined) return m.dataPoints[0].value * 1000;
  }
  return Number.NaN;
}

/** The service's V8 heap in use (its own v8js.memory.heap.used, summed over heap spaces), MiB: tells a leak
 * (heap grows) from the allocator or V8 keeping more pages resident (RSS grows, heap does not). */
function heapUsedMiB(): number {
  for (let i = receiver.metrics.length - 1; i >= 0; i--) {
    const m = receiver.metrics[i]!;
    if (m.name === 'v8js.memory.heap.used' && m.dataPoints.length > 0) return m.dataPoints.reduce((n, p) => n + (p.value ?? 0), 0) / 2 ** 20;
  }
  return Number.NaN;
}

interface Row {
  window: number;
  atS: number;
  sent: number;
  failed: number;
  p50: number;
  p99: number;
  max: number;
  rssMiB: number;
  heapMiB: number;
  eldP99Ms: number;
  spansQueued: number;
}
const rows: Row[] = [];
const t0 = Date.now();
console.log(`soak: ${rate} req/s (${f.load! * 100} % of ${capacity} req/s: MODEL_CONCURRENCY=${f.concurrency}, ${f.latency} ms) for ${windows} x ${f.interval} s`);
console.log('window  t(s)   sent  failed  p50(ms)  p99(ms)  max(ms)  RSS(MiB)  heap(MiB)  ELD p99(ms)  spans queued');
try {
  for (let w = 1; w <= windows; w++) {
    const run = figures(await runLoad(loadOptions(svc.url, { rate, concurrency: Math.max(32, Math.ceil(rate)), durationMs: f.interval! * 1000 })));
    const h = await health(svc.url);
    const row: Row = {
      window: w,
      atS: Math.round((Date.now() - t0) / 1000),
      sent: run.sent,
      failed: run.failed,
      p50: run.latency.p50,
      p99: run.latency.p99,
      max: run.latency.max,
      rssMiB: rssMiB(svc.proc.pid!),
      heapMiB: heapUsedMiB(),
      eldP99Ms: eventLoopP99Ms(),
      spansQueued: h.telemetry.spans_queued_or_dropped,
    };
    rows.push(row);
    console.log(
      [row.window, row.atS, row.sent, row.failed, row.p50, row.p99, row.max, row.rssMiB.toFixed(1), row.heapMiB.toFixed(1), row.eldP99Ms.toFixed(2), row.spansQueued]
        .map((x, i) => String(x).padStart([6, 5, 6, 7, 8, 8, 8, 9, 10, 12, 13][i]!))
        .join(' '),
    );
  }
} finally {
  const exit = await svc.stop();
  await receiver.stop();
  console.log(`service exit code ${exit}`);
}

// Flat: the last third against the second third (the first third includes JIT warm-up and heap growth to size).
const third = Math.max(1, Math.floor(rows.length / 3));
const mid = rows.slice(third, 2 * third);
const last = rows.slice(-third);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const rssMid = mean(mid.map((r) => r.rssMiB));
const rssLast = mean(last.map((r) => r.rssMiB));
const p99Mid = mean(mid.map((r) => r.p99));
const p99Last = mean(last.map((r) => r.p99));
const eldMax = Math.max(...rows.map((r) => r.eldP99Ms).filter(Number.isFinite));
const failed = rows.reduce((n, r) => n + r.failed, 0);
const sent = rows.reduce((n, r) => n + r.sent, 0);
const flat = rssLast <= rssMid * 1.1 + 5 && p99Last <= p99Mid * 1.5 + 10 && failed === 0;
console.log(
  `FIGURE soak: ${Math.round((Date.now() - t0) / 1000)} s at ${rate} req/s, ${sent} requests, ${failed} failed; ` +
    `RSS ${rows[0]!.rssMiB.toFixed(0)} MiB after the first window, mean ${rssMid.toFixed(1)} (middle third) -> ${rssLast.toFixed(1)} MiB (last third), max ${Math.max(...rows.map((r) => r.rssMiB)).toFixed(1)}; ` +
    `p99 ${p99Mid.toFixed(1)} -> ${p99Last.toFixed(1)} ms; event-loop delay p99 max ${eldMax.toFixed(2)} ms; ${flat ? 'flat' : 'DRIFT'}`,
);
process.exitCode = flat ? 0 : 1;
