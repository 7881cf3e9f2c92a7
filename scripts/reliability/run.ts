// Long versions of the reliability scenarios (the tests run short ones). Builds nothing: run `npm run build` first.
//   node scripts/reliability/run.ts outage   [--rate 500 --seconds 60 --outage-at 20 --outage 20 --baseline 30 --latency 5]
//   node scripts/reliability/run.ts slow     [--rate 200 --phase 20 --latency 5 --slow-ms 2000 --export-timeout 5000]
//   node scripts/reliability/run.ts sigterm  [--rate 200 --latency 300 --load 10 --delay 5000 --timeout 10000]
//   node scripts/reliability/run.ts overload [--latency 50 --concurrency 4 --queue 16 --factor 2 --seconds 60]
// Prints the scenario's FIGURE line and its full result as JSON (histograms reduced to percentiles).
import { numberFlags } from './harness.ts';
import { runOutage, runOverload, runSigterm, runSlowCollector } from './scenarios.ts';

const [scenario, ...rest] = process.argv.slice(2);

async function main(): Promise<{ figure: string }> {
  switch (scenario) {
    case 'outage': {
      const f = numberFlags(rest, { rate: 500, seconds: 60, 'outage-at': 20, outage: 20, baseline: 30, latency: 5 });
      return runOutage({
        rate: f.rate!,
        seconds: f.seconds!,
        outageAtSeconds: f['outage-at']!,
        outageSeconds: f.outage!,
        baselineSeconds: f.baseline!,
        latencyMs: f.latency!,
        resumeWaitMs: 60_000,
      });
    }
    case 'slow': {
      const f = numberFlags(rest, { rate: 200, phase: 20, latency: 5, 'slow-ms': 2000, 'export-timeout': 5000 });
      return runSlowCollector({ rate: f.rate!, phaseSeconds: f.phase!, latencyMs: f.latency!, slowMs: f['slow-ms']!, exportTimeoutMs: f['export-timeout']! });
    }
    case 'sigterm': {
      const f = numberFlags(rest, { rate: 200, latency: 300, load: 10, delay: 5000, timeout: 10000 });
      return runSigterm({
        rate: f.rate!,
        latencyMs: f.latency!,
        loadSeconds: f.load!,
        shutdownDelayMs: f.delay!,
        shutdownTimeoutMs: f.timeout!,
        trafficAfterSigtermMs: Math.min(1_000, f.delay! / 2),
      });
    }
    case 'overload': {
      const f = numberFlags(rest, { latency: 50, concurrency: 4, queue: 16, factor: 2, seconds: 60 });
      return runOverload({ latencyMs: f.latency!, modelConcurrency: f.concurrency!, maxQueue: f.queue!, factor: f.factor!, seconds: f.seconds! });
    }
    default:
      throw new Error('usage: node scripts/reliability/run.ts outage|slow|sigterm|overload [--flag value ...]');
  }
}

const result = await main();
console.log(`FIGURE ${scenario}: ${result.figure}`);
console.log(JSON.stringify(result, (key, value) => (key === 'ids' ? `${(value as string[]).length} ids` : value), 2));
