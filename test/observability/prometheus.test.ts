// The real thing: Debian's prometheus scrapes the running service's /metrics (OTEL_METRICS_EXPORTER=prometheus)
// while the load generator drives it; then Prometheus' HTTP API answers every Prometheus query of the Grafana
// dashboard with the labels its legend names, its histogram_quantile agrees with the load generator's own p99,
// and the p99 alert of alerts.yaml fires when the model is made slow (DEFAULT_LATENCY_MS=300) and clears when it
// is fast again; TelemetryLoss and ServiceDown fire when exports fail and when the service stops.
// Needs `npm run build` (the service runs from dist/) and /usr/bin/prometheus.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { latencyStats } from '../../src/load/aggregate.ts';
import { runLoad, type LoadOptions } from '../../src/load/engine.ts';
import { OtlpReceiver } from '../../src/receiver/receiver.ts';
import { PREDICTION_LATENCY_BUCKETS_MS } from '../../src/telemetry/catalogue.ts';
import { fastExportEnv, freePort, postJson, ROOT, startService, type RunningService } from '../helpers/service.ts';

const JOB = 'ai-inference-service';
const OBS = join(ROOT, 'k8s/overlays/observability');
const PROMETHEUS = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';

interface Target {
  expr?: string;
  legendFormat?: string;
  datasource?: { uid: string };
}
interface Panel {
  title: string;
  type: string;
  datasource?: { uid: string };
  targets?: Target[];
}
const dashboard = JSON.parse(readFileSync(join(OBS, 'grafana/dashboards/inference-service.json'), 'utf8')) as { panels: Panel[] };

/** The dashboard's Prometheus queries with Grafana's variables filled in as the dashboard would for this service. */
const panelQueries = (rateInterval: string) =>
  dashboard.panels.flatMap((p) =>
    (p.targets ?? [])
      .filter((t) => (t.datasource ?? p.datasource)?.uid === 'prometheus')
      .map((t) => ({
        panel: p.title,
        expr: t.expr!.replaceAll('$__rate_interval', rateInterval).replaceAll('$job', JOB),
        // The labels the legend shows: each must be on every series the query returns.
        labels: [...(t.legendFormat ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]!),
      })),
  );

type Sample = { metric: Record<string, string>; value: [number, string] };

describe('the service scraped by a real Prometheus', { timeout: 150_000 }, () => {
  let prometheus: ChildProcess | undefined;
  let prometheusLog = '';
  let api: string;
  let dir: string;
  let metricsPort: number;
  let receiver: OtlpReceiver;
  let svc: RunningService | undefined;

  async function query(expr: string): Promise<Sample[]> {
    const res = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as { status: string; error?: string; data: { resultType: string; result: Sample[] } };
    assert.equal(body.status, 'success', `${expr}: ${body.error}`);
    return body.data.result;
  }

  /** Polls `check` (bounded) until it returns a value other than undefined. */
  async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await check();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${prometheusLog.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async function startModel(latencyMs: number, env: Record<string, string> = {}): Promise<RunningService> {
    await svc?.stop();
    // Same /metrics port for every start: one scrape target, as a pod restarted in place.
    svc = await startService({
      ...fastExportEnv(receiver.grpcUrl),
      OTEL_METRICS_EXPORTER: 'prometheus',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
      DEFAULT_LATENCY_MS: String(latencyMs),
      // The load generator's 8 connections never wait for the model (its p99 is then the model's plus HTTP);
      // a burst of 40 fills the queue.
      MODEL_CONCURRENCY: '8',
      MAX_QUEUE: '8',
      ...env,
    });
    return svc;
  }

  const load = (url: string, durationMs: number, concurrency = 4): LoadOptions => ({
    target: `${url}/predict`,
    method: 'POST',
    body: JSON.stringify({ features: [1, 2, 3] }),
    requests: null,
    durationMs,
    rate: null,
    concurrency,
    timeoutMs: 5_000,
    propagate: false,
  });

  /** Waits until Prometheus has scraped `n` answered predictions from the running process. */
  const scraped = (n: number) =>
    until(`${n} predictions scraped`, async () => {
      const r = await query(`sum(prediction_latency_ms_milliseconds_count{job="${JOB}"})`);
      return Number(r[0]?.value[1]) === n ? true : undefined;
    });

  async function alertState(name: string): Promise<string> {
    const res = (await (await fetch(`${api}/api/v1/alerts`)).json()) as { data: { alerts: { labels: { alertname: string }; state: string }[] } };
    return res.data.alerts.find((a) => a.labels.alertname === name)?.state ?? 'inactive';
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'prometheus-test-'));
    receiver = new OtlpReceiver({ grpcPort: 0, httpPort: 0, healthPort: 0 });
    await receiver.start();
    metricsPort = await freePort();
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    // The rules as shipped, with `for` and the rate windows shortened so that a minute of test shows both edges.
    const rules = readFileSync(join(OBS, 'prometheus/alerts.yaml'), 'utf8')
      .replace(/^(\s+for: )\S+$/gm, (_, key: string) => `${key}2s`)
      .replaceAll('[5m]', '[10s]')
      .replace(/^(\s+interval: )\S+$/gm, (_, key: string) => `${key}1s`);
    writeFileSync(join(dir, 'alerts.yaml'), rules);
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        'rule_files: [alerts.yaml]',
        'scrape_configs:',
        `  - job_name: ${JOB}`,
        `    static_configs: [{ targets: ["127.0.0.1:${metricsPort}"] }]`,
        '',
      ].join('\n'),
    );
    prometheus = spawn(
      PROMETHEUS,
      [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stdout!.on('data', (d: Buffer) => (prometheusLog += d.toString()));
    prometheus.stderr!.on('data', (d: Buffer) => (prometheusLog += d.toString()));
    await startModel(20);
    await until('Prometheus ready', async () => ((await fetch(`${api}/-/ready`).catch(() => undefined))?.ok ? true : undefined));
  });

  after(async () => {
    await svc?.stop();
    if (prometheus && prometheus.exitCode === null && prometheus.signalCode === null) {
      const exited = new Promise((r) => prometheus!.once('exit', r));
      prometheus.kill('SIGTERM');
      await exited;
    }
    await receiver?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the p99 alert stays silent while the model is fast', async () => {
    // Under load until the alert's own expression has a value (two scrapes with an increase between them).
    const p99 = await until('the p99 of the fast model', async () => {
      assert.equal((await runLoad(load(svc!.url, 1_000))).failed, 0);
      const [r] = await query(`histogram_quantile(0.99, sum by (le) (rate(prediction_latency_ms_milliseconds_bucket{job="${JOB}"}[10s])))`);
      return r !== undefined && Number.isFinite(Number(r.value[1])) ? Number(r.value[1]) : undefined;
    });
    assert.ok(p99 < 200, `p99 ${p99} ms`);
    assert.equal(await alertState('PredictionLatencyP99High'), 'inactive');
  });

  let slowAt: number;
  test('made slow (DEFAULT_LATENCY_MS=300), histogram_quantile over the scraped buckets agrees with the load generator\'s p99 within the bucket width', async (t) => {
    await startModel(300);
    slowAt = Date.now();
    const run = await runLoad(load(svc!.url, 6_000, 8));
    assert.equal(run.failed, 0);
    await scraped(run.successful);
    const loadP99Ms = latencyStats(run.latency).p99;
    // The cumulative buckets of this process: exactly the load generator's requests.
    const [p99] = await query(`histogram_quantile(0.99, sum by (le) (prediction_latency_ms_milliseconds_bucket{job="${JOB}"}))`);
    const promP99 = Number(p99!.value[1]);
    const upper = PREDICTION_LATENCY_BUCKETS_MS.find((b) => b >= promP99)!;
    const width = upper - (PREDICTION_LATENCY_BUCKETS_MS[PREDICTION_LATENCY_BUCKETS_MS.indexOf(upper) - 1] ?? 0);
    t.diagnostic(`p99: Prometheus ${promP99.toFixed(1)} ms, load generator ${loadP99Ms} ms, bucket (${upper - width}, ${upper}], ${run.successful} requests`);
    assert.ok(Math.abs(promP99 - loadP99Ms) <= width, `Prometheus p99 ${promP99.toFixed(1)} ms, load generator p99 ${loadP99Ms} ms, bucket width ${width} ms`);
    // The guide's name answers too, through the alias recording rule.
    await until('the guide-name alias', async () => {
      const r = await query(`sum(prediction_latency_ms_count{job="${JOB}"})`);
      return Number(r[0]?.value[1]) === run.successful ? true : undefined;
    });
  });

  test('the p99 alert fires while the model is slow', async (t) => {
    await until('PredictionLatencyP99High firing', async () => {
      if ((await alertState('PredictionLatencyP99High')) === 'firing') return true;
      await runLoad(load(svc!.url, 1_000, 8));
      return undefined;
    }, 40_000);
    t.diagnostic(`fired ${Date.now() - slowAt} ms after the slow start (for: 2s, windows 10s)`);
  });

  test('every Prometheus query of the dashboard returns data with the labels its legend shows', async () => {
    // A burst beyond MODEL_CONCURRENCY + MAX_QUEUE: refusals, so the rejection panel has its series.
    const burst = await Promise.all(Array.from({ length: 40 }, () => postJson(`${svc!.url}/predict`, { features: [1] })));
    assert.ok(burst.some((r) => r.status === 503) && burst.some((r) => r.status === 200));
    await until('the rejections scraped', async () => ((await query('requests_rejected_total')).length > 0 ? true : undefined));
    const queries = panelQueries('1m');
    assert.ok(queries.length >= 14, `${queries.length} queries`);
    const empty: string[] = [];
    for (const q of queries) {
      const result = await until(`data for "${q.panel}"`, async () => {
        const r = await query(q.expr);
        return r.length > 0 && r.every((s) => Number.isFinite(Number(s.value[1]))) ? r : undefined;
      }, 10_000).catch(() => undefined);
      if (result === undefined) {
        empty.push(`${q.panel}: ${q.expr}`);
        continue;
      }
      for (const s of result) for (const l of q.labels) assert.ok(l in s.metric, `${q.panel}: label ${l} on ${JSON.stringify(s.metric)}`);
    }
    assert.deepEqual(empty, [], 'panels with "No data"');
    // The Jaeger panel asks for this service's traces slower than the SLO.
    const jaeger = dashboard.panels.filter((p) => p.datasource?.uid === 'jaeger');
    assert.equal(jaeger.length, 1);
    assert.deepEqual(jaeger[0]!.targets!.map((t) => [(t as { service?: string }).service, (t as { minDuration?: string }).minDuration]), [['$job', '200ms']]);
  });

  test('the p99 alert clears once the model is fast again', async (t) => {
    await startModel(20);
    const fastAt = Date.now();
    await until('PredictionLatencyP99High cleared', async () => {
      await runLoad(load(svc!.url, 1_000));
      return (await alertState('PredictionLatencyP99High')) === 'inactive' ? true : undefined;
    }, 40_000);
    t.diagnostic(`cleared ${Date.now() - fastAt} ms after the fast start (windows 10s)`);
  });

  test('TelemetryLoss fires when spans and log records cannot be delivered', async () => {
    assert.equal(await alertState('TelemetryLoss'), 'inactive', 'nothing lost while the receiver takes everything');
    // A Collector address nobody listens on, no retry: every export fails at once and is counted as failed.
    await startModel(20, { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await freePort()}`, EXPORT_RETRY_MS: '0' });
    await until('TelemetryLoss firing', async () => {
      if ((await alertState('TelemetryLoss')) === 'firing') return true;
      await runLoad(load(svc!.url, 500));
      return undefined;
    }, 40_000);
  });

  test('ServiceDown fires when the service stops', async () => {
    assert.equal(await alertState('ServiceDown'), 'inactive');
    await svc!.stop();
    svc = undefined;
    await until('ServiceDown firing', async () => ((await alertState('ServiceDown')) === 'firing' ? true : undefined), 40_000);
  });
});
