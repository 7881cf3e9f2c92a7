// The reliability scenarios of docs/RELIABILITY.md, each a function over its durations and rates, so that the tests
// in test/reliability/ run the short versions and `node scripts/reliability/run.ts <scenario> --seconds …` the long
// ones. Each starts the real service (production command), drives it with the load generator as a library, and
// returns plain figures; the callers decide what must hold.
import { OtlpReceiver } from '../../src/receiver/receiver.ts';
import { LoadRun, runLoad } from '../../src/load/engine.ts';
import { fastExportEnv, freePort, startService as startAt, type RunningService } from '../../test/helpers/service.ts';
import {
  FaultyCollector,
  RssSampler,
  figures,
  finalTelemetry,
  health,
  loadOptions,
  sleep,
  type CollectorMode,
  type RunFigures,
  type TelemetryCounters,
} from './harness.ts';

const SPANS_PER_PREDICTION = 4; // server span + preprocess, inference, postprocess

// RELIABILITY_SERVICE_ROOT runs the scenarios against another build (a directory holding dist/ and package.json),
// e.g. a release candidate, while the working tree is being changed; the repository's own dist/ by default.
const startService = (env: Record<string, string>): Promise<RunningService> =>
  startAt(env, process.env.RELIABILITY_SERVICE_ROOT ? { root: process.env.RELIABILITY_SERVICE_ROOT } : {});

/** Notes an exit that nobody asked for (a crash, or a signal from outside), with the service's last log lines. */
function watchExit(svc: RunningService): { expected(): void; unexpected(): string | null } {
  let expected = false;
  let unexpected: string | null = null;
  void svc.exited.then((code) => {
    if (!expected) unexpected = `exit ${code} (signal ${svc.proc.signalCode}) during the run; last lines:\n${svc.logs().split('\n').slice(-6).join('\n')}`;
  });
  return { expected: () => (expected = true), unexpected: () => unexpected };
}

// ---------------------------------------------------------------------------------------------------------------
// 1. Collector outage during an open-model run

export const OUTAGE_SPAN_QUEUE = 2048; // OTEL_BSP_MAX_QUEUE_SIZE for this scenario (the specification's default)

export interface OutageOptions {
  rate: number;
  seconds: number;
  baselineSeconds: number;
  outageAtSeconds: number;
  outageSeconds: number;
  latencyMs: number;
  /** How long to wait, after the restart, for the first span to arrive. */
  resumeWaitMs: number;
}

export interface OutageResult {
  baseline: RunFigures;
  outage: RunFigures;
  rssBaselinePeakMiB: number;
  rssOutagePeakMiB: number;
  /** From the restart to the first span received by the new receiver. */
  resumeAfterMs: number;
  answeredTraces: number;
  tracesDelivered: number;
  tracesMissing: number;
  spansReceived: number;
  /** Every metric name the receivers got (to look for an exported count of lost spans). */
  metricNames: string[];
  /** Set when the service exited before the scenario stopped it. */
  unexpectedExit: string | null;
  final: TelemetryCounters | null;
  exitCode: number | null;
  figure: string;
}

export async function runOutage(o: OutageOptions): Promise<OutageResult> {
  const ports = { grpcPort: await freePort(), httpPort: await freePort(), healthPort: await freePort() };
  const receiverOptions = { host: '127.0.0.1', ...ports, print: false, store: true, maxStored: 50_000 };
  const first = new OtlpReceiver(receiverOptions);
  await first.start();
  let second: OtlpReceiver | undefined;
  let svc: RunningService | undefined;
  try {
    // The span queue is set explicitly: it is the bound on span memory while the Collector is away.
    svc = await startService({ ...fastExportEnv(first.grpcUrl), DEFAULT_LATENCY_MS: String(o.latencyMs), OTEL_BSP_MAX_QUEUE_SIZE: String(OUTAGE_SPAN_QUEUE) });
    const watch = watchExit(svc);
    const concurrency = Math.max(64, Math.ceil(o.rate));
    await runLoad(loadOptions(svc.url, { rate: o.rate, concurrency, durationMs: 1_000 })); // warm-up, discarded
    let rss = new RssSampler(svc.proc.pid!);
    const baseline = figures(await runLoad(loadOptions(svc.url, { rate: o.rate, concurrency, durationMs: o.baselineSeconds * 1000 })));
    const rssBaselinePeakMiB = rss.stop().peak();

    rss = new RssSampler(svc.proc.pid!);
    const run = new LoadRun(loadOptions(svc.url, { rate: o.rate, concurrency, durationMs: o.seconds * 1000 })).start();
    await sleep(o.outageAtSeconds * 1000);
    await first.stop();
    await sleep(o.outageSeconds * 1000);
    second = new OtlpReceiver(receiverOptions); // same ports: the Collector pod came back
    await second.start();
    const restartedAt = Date.now();
    const resumed = second.waitFor(() => second!.counts.spans > 0, o.resumeWaitMs, 'the first span after the restart').then(
      () => Date.now() - restartedAt,
      () => Number.NaN,
    );
    const outage = figures(await run.result);
    const rssOutagePeakMiB = rss.stop().peak();
    const resumeAfterMs = await resumed;

    const unexpectedExit = watch.unexpected();
    watch.expected();
    const exitCode = await svc.stop();
    const final = finalTelemetry(svc);
    const received = new Set([...first.traceIds(), ...second.traceIds()]);
    const ids = [...new Set([...baseline.ids, ...outage.ids])];
    const tracesDelivered = ids.filter((id) => received.has(id)).length;
    const spansReceived = first.counts.spans + second.counts.spans;
    const lost = final === null ? Number.NaN : final.spans_ended - spansReceived;
    const figure =
      `${o.rate} req/s, ${o.seconds}s with a ${o.outageSeconds}s outage: ${outage.sent} sent, ${outage.failed} failed; ` +
      `p99 ${outage.latency.p99} ms vs ${baseline.latency.p99} ms baseline (x${(outage.latency.p99 / baseline.latency.p99).toFixed(2)}); ` +
      `RSS peak ${rssOutagePeakMiB.toFixed(0)} MiB vs ${rssBaselinePeakMiB.toFixed(0)} MiB; export resumed ${resumeAfterMs} ms after restart; ` +
      `traces ${tracesDelivered}/${ids.length} delivered, ${ids.length - tracesDelivered} missing; ` +
      `spans ended ${final?.spans_ended} = exported ${final?.spans_exported} + failed ${final?.spans_export_failed} + dropped ${final?.spans_queued_or_dropped}; ` +
      `receiver got ${spansReceived}, so ${lost} lost, all counted (failed+dropped = ${final === null ? '?' : final.spans_export_failed + final.spans_queued_or_dropped}); exit ${exitCode}` +
      (unexpectedExit === null ? '' : `; UNEXPECTED ${unexpectedExit}`);
    return {
      baseline,
      outage,
      rssBaselinePeakMiB,
      rssOutagePeakMiB,
      resumeAfterMs,
      answeredTraces: ids.length,
      tracesDelivered,
      tracesMissing: ids.length - tracesDelivered,
      spansReceived,
      metricNames: [...new Set([...first.metrics, ...second.metrics].map((m) => m.name))].sort(),
      unexpectedExit,
      final,
      exitCode,
      figure,
    };
  } finally {
    await svc?.stop('SIGKILL');
    await first.stop();
    await second?.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Slow, then refusing Collector

export interface SlowCollectorOptions {
  rate: number;
  /** Seconds per phase: healthy (the baseline), slow, refusing. */
  phaseSeconds: number;
  latencyMs: number;
  slowMs: number;
  exportTimeoutMs: number;
}

export interface PhaseFigures {
  mode: CollectorMode;
  run: RunFigures;
  rssPeakMiB: number;
  telemetryAfter: TelemetryCounters;
}

export interface SlowCollectorResult {
  phases: PhaseFigures[];
  acknowledged: Record<CollectorMode, number>;
  final: TelemetryCounters | null;
  exitCode: number | null;
  figure: string;
}

export async function runSlowCollector(o: SlowCollectorOptions): Promise<SlowCollectorResult> {
  const collector = new FaultyCollector(o.slowMs);
  await collector.start();
  let svc: RunningService | undefined;
  try {
    svc = await startService({
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_TIMEOUT: String(o.exportTimeoutMs),
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_METRIC_EXPORT_INTERVAL: '1000',
      DEFAULT_LATENCY_MS: String(o.latencyMs),
    });
    const concurrency = Math.max(64, Math.ceil(o.rate));
    await runLoad(loadOptions(svc.url, { rate: o.rate, concurrency, durationMs: 1_000 })); // warm-up
    const phases: PhaseFigures[] = [];
    for (const mode of ['ok', 'slow', 'refuse'] as const) {
      collector.mode = mode;
      const rss = new RssSampler(svc.proc.pid!);
      const run = figures(await runLoad(loadOptions(svc.url, { rate: o.rate, concurrency, durationMs: o.phaseSeconds * 1000 })));
      phases.push({ mode, run, rssPeakMiB: rss.stop().peak(), telemetryAfter: (await health(svc.url)).telemetry });
    }
    collector.mode = 'ok'; // the Collector recovers: what is still queued is flushed on shutdown
    const exitCode = await svc.stop();
    const final = finalTelemetry(svc);
    const p = (m: CollectorMode) => phases.find((x) => x.mode === m)!;
    const after = p('refuse').telemetryAfter;
    const figure =
      `${o.rate} req/s, ${o.phaseSeconds}s per phase: p99 ok ${p('ok').run.latency.p99} ms, slow (${o.slowMs} ms) ${p('slow').run.latency.p99} ms, ` +
      `refusing (503) ${p('refuse').run.latency.p99} ms; failed requests ${phases.reduce((n, x) => n + x.run.failed, 0)}; ` +
      `RSS peak ${phases.map((x) => `${x.mode} ${x.rssPeakMiB.toFixed(0)}`).join(', ')} MiB; ` +
      `after the refusing phase: ended ${after.spans_ended}, exported ${after.spans_exported}, failed ${after.spans_export_failed}, queued/dropped ${after.spans_queued_or_dropped}; ` +
      `final: exported ${final?.spans_exported} + failed ${final?.spans_export_failed} + dropped ${final?.spans_queued_or_dropped} = ended ${final?.spans_ended}; exit ${exitCode}`;
    return { phases, acknowledged: { ...collector.acknowledgedSpans }, final, exitCode, figure };
  } finally {
    await svc?.stop('SIGKILL');
    await collector.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 3. SIGTERM under load (a rolling update)

export interface SigtermOptions {
  rate: number;
  latencyMs: number;
  /** Load before the SIGTERM. */
  loadSeconds: number;
  shutdownDelayMs: number;
  shutdownTimeoutMs: number;
  /** After the SIGTERM, the load keeps coming this long (the endpoints controller has not yet removed the pod). */
  trafficAfterSigtermMs: number;
}

export interface SigtermResult {
  run: RunFigures;
  readinessFalseAfterMs: number;
  /** A new connection made during the drain delay was served. */
  newConnectionDuringDelay: number | string;
  /** A new connection made after the drain delay. */
  newConnectionAfterDelay: number | string;
  exitCode: number | null;
  exitAfterMs: number;
  tracesDelivered: number;
  final: TelemetryCounters | null;
  figure: string;
}

async function probe(url: string): Promise<number | string> {
  // A fresh connection each time (no keep-alive pool), as a new client would open.
  try {
    const res = await fetch(url, { headers: { connection: 'close' }, signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return res.status;
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    return cause?.code ?? (err as Error).name;
  }
}

export async function runSigterm(o: SigtermOptions): Promise<SigtermResult> {
  const receiver = new OtlpReceiver({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, healthPort: 0, print: false, store: true, maxStored: 50_000 });
  await receiver.start();
  let svc: RunningService | undefined;
  try {
    svc = await startService({
      ...fastExportEnv(receiver.grpcUrl),
      DEFAULT_LATENCY_MS: String(o.latencyMs),
      SHUTDOWN_DELAY_MS: String(o.shutdownDelayMs),
      SHUTDOWN_TIMEOUT_MS: String(o.shutdownTimeoutMs),
    });
    const url = svc.url;
    const run = new LoadRun(loadOptions(url, { rate: o.rate, concurrency: Math.max(64, o.rate), durationMs: 120_000 })).start();
    await sleep(o.loadSeconds * 1000);
    const t0 = Date.now();
    svc.proc.kill('SIGTERM');
    let readinessFalseAfterMs = Number.NaN;
    while (Date.now() - t0 < 2_000) {
      if ((await probe(`${url}/readyz`)) === 503) {
        readinessFalseAfterMs = Date.now() - t0;
        break;
      }
    }
    await sleep(Math.max(0, o.trafficAfterSigtermMs - (Date.now() - t0)));
    run.stop(); // the pod is out of the endpoints: no new requests; those in flight must complete
    await sleep(Math.max(0, o.shutdownDelayMs / 2 - (Date.now() - t0)));
    const newConnectionDuringDelay = await probe(`${url}/livez`);
    await sleep(Math.max(0, o.shutdownDelayMs + 300 - (Date.now() - t0)));
    const newConnectionAfterDelay = await probe(`${url}/livez`);
    const result = figures(await run.result);
    const exitCode = await svc.exited;
    const exitAfterMs = Date.now() - t0;
    const final = finalTelemetry(svc);
    const received = receiver.traceIds();
    const tracesDelivered = result.ids.filter((id) => received.has(id)).length;
    const figure =
      `${o.rate} req/s, ${o.latencyMs} ms model, SIGTERM after ${o.loadSeconds}s, drain delay ${o.shutdownDelayMs} ms: ` +
      `readiness 503 after ${readinessFalseAfterMs} ms; accepted ${result.sent}, completed ${result.completed} (${JSON.stringify(result.statuses)}), ` +
      `resets ${result.errors.reset}, refused ${result.errors.refused}, timeouts ${result.errors.timeout}; ` +
      `new connection during the delay: ${newConnectionDuringDelay}, after it: ${newConnectionAfterDelay}; ` +
      `traces delivered ${tracesDelivered}/${result.ids.length}; spans exported ${final?.spans_exported}/${final?.spans_ended}, failed ${final?.spans_export_failed}; ` +
      `exit ${exitCode} after ${exitAfterMs} ms`;
    return { run: result, readinessFalseAfterMs, newConnectionDuringDelay, newConnectionAfterDelay, exitCode, exitAfterMs, tracesDelivered, final, figure };
  } finally {
    await svc?.stop('SIGKILL');
    await receiver.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 4. Overload at a multiple of capacity

export interface OverloadOptions {
  latencyMs: number;
  modelConcurrency: number;
  maxQueue: number;
  /** Multiple of capacity (modelConcurrency / latency) to drive. */
  factor: number;
  seconds: number;
}

export interface OverloadResult {
  capacity: number;
  rate: number;
  run: RunFigures;
  /** (MODEL_CONCURRENCY + MAX_QUEUE) / capacity + latency, ms. */
  boundMs: number;
  healthRejected: number;
  metricRejected: number | null;
  spansOverloaded: number;
  rssFirstHalfMiB: number;
  rssSecondHalfMiB: number;
  rssPeakMiB: number;
  exitCode: number | null;
  figure: string;
}

export async function runOverload(o: OverloadOptions): Promise<OverloadResult> {
  const receiver = new OtlpReceiver({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, healthPort: 0, print: false, store: true, maxStored: 50_000 });
  await receiver.start();
  let svc: RunningService | undefined;
  try {
    svc = await startService({
      ...fastExportEnv(receiver.grpcUrl),
      DEFAULT_LATENCY_MS: String(o.latencyMs),
      LATENCY_JITTER_MS: '0',
      MODEL_CONCURRENCY: String(o.modelConcurrency),
      MAX_QUEUE: String(o.maxQueue),
      // Unbatched, so that capacity is MODEL_CONCURRENCY / latency (dynamic batching would multiply it).
      MAX_BATCH_SIZE: '1',
    });
    const capacity = (o.modelConcurrency * 1000) / o.latencyMs;
    const rate = capacity * o.factor;
    const rss = new RssSampler(svc.proc.pid!);
    const run = figures(
      await runLoad(loadOptions(svc.url, { rate, concurrency: Math.ceil(rate * 2), durationMs: o.seconds * 1000, timeoutMs: 10_000 })),
    );
    rss.stop();
    const half = (o.seconds * 1000) / 2;
    const healthRejected = (await health(svc.url)).model_queue.rejected;
    const exitCode = await svc.stop(); // the shutdown exports the last metrics and spans
    const rejectedPoints = receiver.metrics
      .filter((m) => m.name === 'requests_rejected_total')
      .flatMap((m) => m.dataPoints.filter((d) => d.attributes.reason === 'overloaded').map((d) => d.value ?? 0));
    const metricRejected = rejectedPoints.length === 0 ? null : Math.max(...rejectedPoints);
    const spansOverloaded = receiver.spans.filter((s) => s.kind === 2 && s.attributes['app.error.code'] === 'ERR_OVERLOADED').length;
    const boundMs = ((o.modelConcurrency + o.maxQueue) / capacity) * 1000 + o.latencyMs;
    const result = {
      capacity,
      rate,
      run,
      boundMs,
      healthRejected,
      metricRejected,
      spansOverloaded,
      rssFirstHalfMiB: rss.mean(1_000, half),
      rssSecondHalfMiB: rss.mean(half),
      rssPeakMiB: rss.peak(),
      exitCode,
      figure: '',
    };
    result.figure =
      `capacity ${capacity} req/s (MODEL_CONCURRENCY=${o.modelConcurrency}, ${o.latencyMs} ms), driven at ${rate} req/s for ${o.seconds}s, MAX_QUEUE=${o.maxQueue}: ` +
      `${run.ok} admitted (p99 ${run.service.p99} ms from send, ${run.latency.p99} ms from schedule; bound ${boundMs} ms), ` +
      `${run.statuses['503'] ?? 0} refused 503 (p99 ${run.failedLatency.p99} ms); counted: /health ${healthRejected}, requests_rejected_total ${metricRejected}, ` +
      `spans with ERR_OVERLOADED ${spansOverloaded}; other failures ${run.failed - (run.statuses['503'] ?? 0)}; ` +
      `RSS mean first half ${result.rssFirstHalfMiB.toFixed(1)} MiB, second half ${result.rssSecondHalfMiB.toFixed(1)} MiB, peak ${result.rssPeakMiB.toFixed(1)} MiB`;
    return result;
  } finally {
    await svc?.stop('SIGKILL');
    await receiver.stop();
  }
}

export { SPANS_PER_PREDICTION };
