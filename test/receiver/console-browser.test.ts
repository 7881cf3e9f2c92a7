// The console in a real browser: `npm start`'s service with its embedded receiver, predictions made over HTTP, and
// Debian's chromium finding them on the console's pages. Screenshots go to SCREENSHOT_DIR (test-results/screenshots).
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, SCREENSHOT_DIR } from '../helpers/browser.ts';
import {
  assertEvilSpanIsText, assertPredictionLogs, assertPredictionSpans, evilSpanShown, EVIL_TRACE_ID, guideMetricsDrawn,
  postEvilSpan, predictionAmongOthers, predictUntilDrawn, refreshUntil, startConsole, type ConsoleUnderTest,
} from '../helpers/console-journeys.ts';
import { postJson } from '../helpers/service.ts';

const WAIT = { timeout: 20_000 };

describe('the console in a browser', () => {
  let c: ConsoleUnderTest;
  let browser: Browser;
  let page: Page;
  let consoleUrl: string;
  const predict = (features?: number[]) => c.predict(features);

  before(async () => {
    c = await startConsole();
    consoleUrl = c.consoleUrl;
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  });
  after(async () => {
    await browser?.close();
    if (c) assert.equal(await c.svc.stop(), 0);
  });

  test('the start-up log prints a loopback URL for the console', () => {
    assert.match(consoleUrl, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  test("a prediction's trace is found by the trace id in its answer; its waterfall shows the four spans and their logs", async () => {
    const traceId = await predictionAmongOthers(c);

    await page.goto(`${consoleUrl}#/traces`);
    await page.locator('#trace-list tbody tr').first().waitFor(WAIT);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'console-traces.png') });
    await page.fill('input[name="traceId"]', traceId);
    await page.press('input[name="traceId"]', 'Enter');
    const row = page.locator(`tr[data-trace-id="${traceId}"]`);
    await row.waitFor(WAIT);
    assert.equal(await page.locator('#trace-list tbody tr').count(), 1, 'the trace id filter leaves one trace');
    await row.getByRole('link', { name: 'POST /predict' }).click();

    // The three pipeline spans may arrive in a later export than the server span: refresh until all four are there.
    const names = async () => (await page.locator('.span-row .span-name').allTextContents()).map((t) => t.trim());
    await refreshUntil(async () => (await names()).length >= 4, () => page.getByRole('button', { name: 'Refresh' }).click());
    assertPredictionSpans(await names());
    assert.equal(await page.locator('#trace-id').textContent(), traceId);
    // The server span's details are open: its attributes, status and kind.
    const detail = page.locator('.span-detail:visible').first();
    await assert.doesNotReject(detail.getByText('http.route').first().waitFor(WAIT));
    await assert.doesNotReject(detail.getByText('server').first().waitFor(WAIT));
    // Opening a child span by keyboard shows its own details.
    const inference = page.locator('.span-row').nth(2);
    await inference.focus();
    await page.keyboard.press('Enter');
    assert.equal(await inference.getAttribute('aria-expanded'), 'true');

    const logs = page.locator('table.logs');
    const logText = async () => (await logs.textContent().catch(() => '')) ?? '';
    await refreshUntil(async () => (await logText()).includes('Prediction completed'), () => page.getByRole('button', { name: 'Refresh' }).click());
    assertPredictionLogs(await logText());
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'console-trace.png'), fullPage: true });
  });

  test("the metrics page draws the guide's http_requests_total and prediction_latency_ms with uPlot", async () => {
    await page.goto(`${consoleUrl}#/metrics`);
    const drawn = await predictUntilDrawn(c, () => page.evaluate(guideMetricsDrawn));
    assert.ok(drawn, 'both guide metrics have a uPlot canvas with data points');
    // The latency histogram also has its bucket chart.
    assert.equal(await page.locator('section[data-metric="prediction_latency_ms"] .buckets canvas').count(), 1);
    assert.ok((await page.locator('.metric-list li').count()) >= 2, 'every metric received is listed');
    await page.waitForTimeout(2_500); // one more poll, so the screenshot shows a few points
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'console-metrics.png'), fullPage: true });
  });

  test("the logs page finds a prediction's log lines by trace id, and the trace id opens the trace", async () => {
    const traceId = (await predict([9, 9, 9])).body.trace_id as string;
    await page.goto(`${consoleUrl}#/logs`);
    await page.locator('table.logs > tbody > tr').first().waitFor(WAIT);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'console-logs.png') });
    await page.fill('input[name="traceId"]', traceId);
    await page.fill('input[name="q"]', 'Prediction completed');
    await page.getByRole('button', { name: 'Search' }).click();
    const rows = page.locator('table.logs > tbody > tr');
    await rows.filter({ hasText: 'Prediction completed' }).first().waitFor(WAIT);
    assert.equal(await rows.count(), 1, 'text and trace id narrow it to one line');
    await rows.first().getByRole('link').click();
    await page.locator('#trace-id').waitFor(WAIT);
    assert.equal(await page.locator('#trace-id').textContent(), traceId);
  });

  test('a span attribute holding <script> is shown as text and never run', async () => {
    await postEvilSpan(c.receiverHttp);
    await page.goto(`${consoleUrl}#/traces/${EVIL_TRACE_ID}`);
    await page.locator('.span-detail:visible').first().waitFor(WAIT);
    assertEvilSpanIsText(await page.evaluate(evilSpanShown));
  });

  test('a span link is followed both ways: from the batch to the request, and from the request back to the batch', async () => {
    const res = await predict([1, 1, 1]);
    const requestTrace = res.body.trace_id as string;
    const batchTrace = '0badc0de0badc0de0badc0de0badc0de';
    const now = BigInt(Date.now()) * 1_000_000n;
    const body = {
      resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'batcher' } }] }, scopeSpans: [{ scope: { name: 'test' }, spans: [{
        traceId: batchTrace, spanId: '1111111111111111', name: 'batch', kind: 1,
        startTimeUnixNano: String(now), endTimeUnixNano: String(now + 3_000_000n),
        links: [{ traceId: requestTrace, spanId: '2222222222222222' }],
      }] }] }],
    };
    assert.equal((await postJson(`${c.receiverHttp}/v1/traces`, body)).status, 200);
    await page.goto(`${consoleUrl}#/traces/${batchTrace}`);
    const toRequest = page.locator('.span-detail:visible').getByRole('link', { name: requestTrace });
    // The request's spans may still be in the service's export queue: the link says "not stored" until they land.
    for (let i = 0; i < 40 && (await toRequest.count()) === 0; i++) {
      await page.waitForTimeout(250);
      await page.getByRole('button', { name: 'Refresh' }).click();
    }
    await toRequest.click();
    await page.locator('#trace-id').waitFor(WAIT);
    assert.equal(await page.locator('#trace-id').textContent(), requestTrace);
    await page.getByRole('link', { name: batchTrace }).click();
    await page.locator(`#trace-id:text("${batchTrace}")`).waitFor(WAIT);
  });

  test('the console sends no CORS headers and refuses requests addressed to a non-loopback name', async () => {
    const res = await fetch(`${consoleUrl}api/traces`, { headers: { origin: 'http://evil.example' } });
    assert.equal(res.status, 200);
    assert.equal([...res.headers.keys()].filter((k) => k.startsWith('access-control-')).length, 0);
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    const { port } = new URL(consoleUrl);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/api/traces', headers: { host: `rebound.example:${port}` } }, (r) => {
        r.resume();
        resolve(r.statusCode!);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 421);
  });
});
