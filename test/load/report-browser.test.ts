// The HTML report in a real browser: short load runs against the real service (dist/: `npm run build` first), with
// the real receiver for the trace audit, write reports that Chromium opens from file://.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import type { Summary } from '../../src/load/aggregate.ts';
import { OtlpReceiver } from '../../src/receiver/receiver.ts';
import { SCREENSHOT_DIR, launchBrowser } from '../helpers/browser.ts';
import { fastExportEnv, startService, type RunningService } from '../helpers/service.ts';

const CLI = fileURLToPath(new URL('../../src/load/cli.ts', import.meta.url));
const MARKUP = '<img src=x onerror="window.pwned=1"><b>bold</b>';
const dir = mkdtempSync(join(tmpdir(), 'load-report-browser-'));
const receiver = new OtlpReceiver({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, healthPort: 0, print: false });
let service: RunningService;
let broken: Server; // a "receiver" whose lookup fails with markup in its answer
let brokenUrl = '';
let browser: Browser;

before(async () => {
  await receiver.start();
  service = await startService(fastExportEnv(receiver.grpcUrl));
  broken = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(502, { 'content-type': 'text/html' }).end(MARKUP));
  });
  await new Promise<void>((resolve) => broken.listen(0, '127.0.0.1', resolve));
  brokenUrl = `http://127.0.0.1:${(broken.address() as AddressInfo).port}`;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await service?.stop();
  broken?.closeAllConnections();
  await new Promise((resolve) => broken?.close(resolve));
  await receiver.stop();
  rmSync(dir, { recursive: true, force: true });
});

function load(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, '--quiet', ...args], { timeout: 60_000 }, (err, _stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stderr });
    });
  });
}

/** Opens a report and collects what the browser complains about (script errors, CSP violations). */
async function open(file: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('request', (r) => {
    if (!r.url().startsWith('file:')) problems.push(`network request: ${r.url()}`);
  });
  await page.goto(pathToFileURL(file).href);
  await page.waitForFunction(() => document.querySelectorAll('.chart[data-points] canvas').length === 4, null, { timeout: 10_000 });
  return { page, problems };
}

/** Per chart: the points it was given, and how many canvas pixels are coloured (the series; axes and grid are grey). */
function drawn(page: Page): Promise<Record<string, { points: number; pixels: number }>> {
  return page.evaluate(() => {
    const out: Record<string, { points: number; pixels: number }> = {};
    for (const el of document.querySelectorAll<HTMLElement>('.chart')) {
      const canvas = el.querySelector('canvas') as HTMLCanvasElement;
      const px = (canvas.getContext('2d') as CanvasRenderingContext2D).getImageData(0, 0, canvas.width, canvas.height).data;
      let pixels = 0;
      for (let i = 0; i < px.length; i += 4) {
        const rgb = [px[i], px[i + 1], px[i + 2]] as number[];
        if ((px[i + 3] as number) > 200 && Math.max(...rgb) - Math.min(...rgb) > 60) pixels++;
      }
      out[el.id] = { points: Number(el.dataset.points), pixels };
    }
    return out;
  });
}

test('a report from a short run against the real service draws its four charts, its verdict and its trace audit in Chromium', async () => {
  const file = join(dir, 'run.html');
  const json = join(dir, 'run.json');
  const args = ['--url', service.url, '--duration', '5s', '--rate', '40', '--concurrency', '8', '--propagate'];
  args.push('--verify-traces', receiver.httpUrl, '--verify-wait', '1s', '--slo', 'p99<2s', '--slo', 'errors<1%', '--out', json, '--report', file);
  const r = await load(args);
  assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.stderr}`);
  const summary = JSON.parse(readFileSync(json, 'utf8')) as Summary;

  const { page, problems } = await open(file);
  const charts = await drawn(page);
  for (const id of ['chart-throughput', 'chart-latency', 'chart-distribution', 'chart-outcomes']) {
    assert.ok((charts[id]?.points ?? 0) > 0, `${id}: ${JSON.stringify(charts[id])}`);
    assert.ok((charts[id]?.pixels ?? 0) > 20, `${id} draws no line: ${JSON.stringify(charts[id])}`);
  }
  const met = summary.slo.every((s) => s.ok);
  assert.equal(await page.locator('#verdict h2').innerText(), met ? '✔ Both objectives met' : `✘ ${summary.slo.filter((s) => !s.ok).length} of 2 objectives missed`);
  const d = summary.traces.delivery;
  assert.ok(d !== null && d.error === null, JSON.stringify(d));
  assert.match(await page.locator('#audit').innerText(), new RegExp(`Traces delivered\\s+${d.delivered}/${d.queried}`));
  assert.match(await page.locator('#command').innerText(), /^npm run load -- --quiet --url http:\/\/127\.0\.0\.1:\d+ --duration 5s .* --report \S+run\.html$/);

  await page.screenshot({ path: join(SCREENSHOT_DIR, 'load-report.png') });
  await page.screenshot({ path: join(SCREENSHOT_DIR, 'load-report-full.png'), fullPage: true });

  // Keyboard: Tab reaches the first chart (past the skip link and the section links), and the right arrow puts the
  // cursor on the first second, whose values the legend then shows.
  for (let i = 0; i < 15 && (await page.evaluate(() => document.activeElement?.id)) !== 'chart-throughput'; i++) await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'chart-throughput');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.locator('#chart-throughput .u-legend .u-series').first().locator('.u-value').innerText(), '0s');

  assert.deepEqual(problems, []);
  await page.close();
});

test('an error text holding markup is shown as text, and a missed objective turns the banner red', async () => {
  const file = join(dir, 'markup.html');
  const r = await load(['--url', service.url, '--endpoint', '/nowhere', '--requests', '20', '--rate', '40', '--propagate', '--verify-traces', brokenUrl, '--verify-wait', '0s', '--slo', 'errors<1%', '--report', file]);
  assert.equal(r.code, 1, r.stderr);

  const { page, problems } = await open(file);
  assert.equal(await page.locator('#verdict').getAttribute('class'), 'verdict fail');
  assert.equal(await page.locator('#verdict h2').innerText(), '✘ Objective missed');
  assert.ok((await page.locator('#audit').innerText()).includes(`answered 502: ${MARKUP}`));
  assert.equal(await page.locator('img, b').count(), 0, 'no element was made from the error text');
  assert.equal(await page.evaluate(() => (window as { pwned?: number }).pwned), undefined);
  assert.match(await page.locator('#error-messages').innerText(), /HTTP 404 ERR_NOT_FOUND: Not Found\s+20\b/);
  const charts = await drawn(page);
  assert.ok((charts['chart-outcomes']?.points ?? 0) > 0 && (charts['chart-outcomes']?.pixels ?? 0) > 20, JSON.stringify(charts['chart-outcomes']));
  await page.screenshot({ path: join(SCREENSHOT_DIR, 'load-report-failed.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});
