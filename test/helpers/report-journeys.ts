// What the HTML report's browser tests share, whichever browser opens the file: the real service and receiver, the
// two load runs that write reports, and the checks of what the opened page must show.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Summary } from '../../src/load/aggregate.ts';
import { OtlpReceiver } from '../../src/receiver/receiver.ts';
import { loadCli } from './load-cli.ts';
import { close, listen } from './local-server.ts';
import { fastExportEnv, startService, type RunningService } from './service.ts';

export const MARKUP = '<img src=x onerror="window.pwned=1"><b>bold</b>';
export const CHART_IDS = ['chart-throughput', 'chart-latency', 'chart-distribution', 'chart-outcomes'];

export interface ReportRig {
  service: RunningService;
  receiver: OtlpReceiver;
  /** A "receiver" whose lookup fails with markup in its answer. */
  brokenUrl: string;
  dir: string;
  stop(): Promise<void>;
}

export async function startReportRig(): Promise<ReportRig> {
  const dir = mkdtempSync(join(tmpdir(), 'load-report-browser-'));
  const receiver = new OtlpReceiver({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, healthPort: 0, print: false });
  await receiver.start();
  const service = await startService(fastExportEnv(receiver.grpcUrl));
  const broken = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(502, { 'content-type': 'text/html' }).end(MARKUP));
  });
  const brokenUrl = await listen(broken);
  const stop = async () => {
    await service.stop();
    await close(broken);
    await receiver.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  return { service, receiver, brokenUrl, dir, stop };
}

const load = (args: string[]) => loadCli(['--quiet', ...args], 60_000);

/** A 5 s run at 40 req/s with the trace audit and two objectives; returns the report's path and the JSON summary. */
export async function healthyRun(rig: ReportRig, name: string): Promise<{ file: string; summary: Summary }> {
  const file = join(rig.dir, `${name}.html`);
  const json = join(rig.dir, `${name}.json`);
  const args = ['--url', rig.service.url, '--duration', '5s', '--rate', '40', '--concurrency', '8', '--propagate'];
  args.push('--verify-traces', rig.receiver.httpUrl, '--verify-wait', '1s', '--slo', 'p99<2s', '--slo', 'errors<1%', '--out', json, '--report', file);
  const r = await load(args);
  assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.stderr}`);
  return { file, summary: JSON.parse(readFileSync(json, 'utf8')) as Summary };
}

/** Every request fails (404) and the trace lookup answers 502 with markup; returns the report's path. */
export async function markupRun(rig: ReportRig, name: string): Promise<string> {
  const file = join(rig.dir, `${name}.html`);
  const r = await load(['--url', rig.service.url, '--endpoint', '/nowhere', '--requests', '20', '--rate', '40', '--propagate', '--verify-traces', rig.brokenUrl, '--verify-wait', '0s', '--slo', 'errors<1%', '--report', file]);
  assert.equal(r.code, 1, r.stderr);
  return file;
}

/**
 * Collects what an opened report complains about: script errors and CSP violations (Firefox reports the latter as
 * page errors), console errors and warnings, and any request beyond the file (data: is no network either: Firefox's
 * own stylesheet loads its list-bullet font from one). Its listeners fit both Playwright's and puppeteer's `page.on`.
 */
export function problemWatch() {
  const problems: string[] = [];
  return {
    problems,
    pageerror: (e: unknown) => void problems.push(`page error: ${e instanceof Error ? e.message : String(e)}`),
    console: (m: { type(): string; text(): string }) => {
      if (['error', 'warning', 'warn'].includes(m.type())) problems.push(`console ${m.type()}: ${m.text()}`);
    },
    request: (r: { url(): string }) => {
      if (!/^(file|data):/.test(r.url())) problems.push(`network request: ${r.url()}`);
    },
  };
}

/** Runs in the page: true once uPlot has drawn all four charts. */
export function chartsReady(): boolean {
  return document.querySelectorAll('.chart[data-points] canvas').length === 4;
}

export interface ReportShown {
  /** Per chart: the points it was given, and how many canvas pixels are coloured (the series; axes and grid are grey). */
  charts: Record<string, { points: number; pixels: number }>;
  verdictClass: string | null;
  verdict: string;
  audit: string;
  command: string;
  errorMessages: string;
  /** Elements the error text would have made, had it been parsed as HTML. */
  markupElements: number;
  pwned: unknown;
}

/** Runs in the page: what the report shows. */
export function reportShown(): ReportShown {
  const charts: ReportShown['charts'] = {};
  for (const el of document.querySelectorAll<HTMLElement>('.chart')) {
    const canvas = el.querySelector('canvas') as HTMLCanvasElement;
    const px = (canvas.getContext('2d') as CanvasRenderingContext2D).getImageData(0, 0, canvas.width, canvas.height).data;
    let pixels = 0;
    for (let i = 0; i < px.length; i += 4) {
      const rgb = [px[i], px[i + 1], px[i + 2]] as number[];
      if ((px[i + 3] as number) > 200 && Math.max(...rgb) - Math.min(...rgb) > 60) pixels++;
    }
    charts[el.id] = { points: Number(el.dataset.points), pixels };
  }
  const text = (sel: string) => document.querySelector<HTMLElement>(sel)?.innerText ?? '';
  return {
    charts,
    verdictClass: document.querySelector('#verdict')?.getAttribute('class') ?? null,
    verdict: text('#verdict h2'),
    audit: text('#audit'),
    command: text('#command'),
    errorMessages: text('#error-messages'),
    markupElements: document.querySelectorAll('img, b').length,
    pwned: (window as { pwned?: number }).pwned,
  };
}

export function assertChartDrawn(shown: ReportShown, id: string): void {
  const c = shown.charts[id];
  assert.ok((c?.points ?? 0) > 0, `${id}: ${JSON.stringify(c)}`);
  assert.ok((c?.pixels ?? 0) > 20, `${id} draws no line: ${JSON.stringify(c)}`);
}

/** The healthy run's report: four charts drawn, the verdict the summary implies, the trace audit and the command. */
export function assertHealthyReport(shown: ReportShown, summary: Summary): void {
  for (const id of CHART_IDS) assertChartDrawn(shown, id);
  const met = summary.slo.every((s) => s.ok);
  assert.equal(shown.verdict, met ? '✔ Both objectives met' : `✘ ${summary.slo.filter((s) => !s.ok).length} of 2 objectives missed`);
  const d = summary.traces.delivery;
  assert.ok(d !== null && d.error === null, JSON.stringify(d));
  assert.match(shown.audit, new RegExp(`Traces delivered\\s+${d.delivered}/${d.queried}`));
  assert.match(shown.command, /^npm run load -- --quiet --url http:\/\/127\.0\.0\.1:\d+ --duration 5s .* --report \S+\.html$/);
}

/** The failed run's report: a red banner, the error text shown character for character and never parsed. */
export function assertMarkupReport(shown: ReportShown): void {
  assert.equal(shown.verdictClass, 'verdict fail');
  assert.equal(shown.verdict, '✘ Objective missed');
  assert.ok(shown.audit.includes(`answered 502: ${MARKUP}`), shown.audit);
  assert.equal(shown.markupElements, 0, 'no element was made from the error text');
  assert.equal(shown.pwned, undefined);
  assert.match(shown.errorMessages, /HTTP 404 ERR_NOT_FOUND: Not Found\s+20\b/);
  assertChartDrawn(shown, 'chart-outcomes');
}
