// The console's essential journeys in Debian's Firefox ESR (puppeteer-core over WebDriver BiDi), against the same
// service and with the same checks as console-browser.test.ts. Screenshots go to SCREENSHOT_DIR with a -firefox suffix.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'puppeteer-core';
import { launchFirefox, SCREENSHOT_DIR } from '../helpers/browser.ts';
import {
  assertEvilSpanIsText, assertPredictionLogs, assertPredictionSpans, evilSpanShown, EVIL_TRACE_ID, guideMetricsDrawn,
  postEvilSpan, predictionAmongOthers, predictUntilDrawn, refreshUntil, startConsole, type ConsoleUnderTest,
} from '../helpers/console-journeys.ts';

const WAIT = { timeout: 20_000 };

describe('the console in Firefox', () => {
  let c: ConsoleUnderTest;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const refresh = () => page.click('#trace-id ~ button');
  const text = (selector: string) => page.$eval(selector, (e) => e.textContent ?? '');

  before(async () => {
    c = await startConsole();
    browser = await launchFirefox();
    page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 900 });
    page.on('pageerror', (e) => problems.push(`page error: ${String(e)}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
    });
  });
  after(async () => {
    await browser?.close();
    if (c) assert.equal(await c.svc.stop(), 0);
  });

  test("a prediction's trace is found by the trace id in its answer; its waterfall shows the four spans and their logs", async () => {
    const traceId = await predictionAmongOthers(c);
    await page.goto(`${c.consoleUrl}#/traces`);
    await page.waitForSelector('#trace-list tbody tr', WAIT);
    await page.type('input[name="traceId"]', traceId);
    await page.keyboard.press('Enter');
    await page.waitForSelector(`tr[data-trace-id="${traceId}"]`, WAIT);
    await page.waitForFunction(() => document.querySelectorAll('#trace-list tbody tr').length === 1, WAIT);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'console-traces-firefox.png') });
    await page.click(`tr[data-trace-id="${traceId}"] a`);
    await page.waitForSelector('#trace-id', WAIT);

    // The three pipeline spans may arrive in a later export than the server span: refresh until all four are there.
    const names = () => page.$$eval('.span-row .span-name', (els) => els.map((e) => (e.textContent ?? '').trim()));
    await refreshUntil(async () => (await names()).length >= 4, refresh);
    assertPredictionSpans(await names());
    assert.equal(await text('#trace-id'), traceId);
    // The server span's details are open, with its attributes and kind.
    const open = await text('.span-detail:not([hidden])');
    assert.match(open, /http\.route/);
    assert.match(open, /server/);
    // Opening a child span by keyboard shows its own details.
    await page.focus('.span-row:nth-of-type(3)');
    await page.keyboard.press('Enter');
    assert.equal(await page.$eval('.span-row:nth-of-type(3)', (e) => e.getAttribute('aria-expanded')), 'true');

    const logText = () => text('table.logs').catch(() => '');
    await refreshUntil(async () => (await logText()).includes('Prediction completed'), refresh);
    assertPredictionLogs(await logText());
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'console-trace-firefox.png'), fullPage: true });
  });

  test("the metrics page draws the guide's http_requests_total and prediction_latency_ms with uPlot", async () => {
    await page.goto(`${c.consoleUrl}#/metrics`);
    assert.ok(await predictUntilDrawn(c, () => page.evaluate(guideMetricsDrawn)), 'both guide metrics have a uPlot canvas with data points');
    assert.equal((await page.$$('section[data-metric="prediction_latency_ms"] .buckets canvas')).length, 1);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'console-metrics-firefox.png'), fullPage: true });
  });

  test('a span attribute holding <script> is shown as text and never run', async () => {
    await postEvilSpan(c.receiverHttp);
    await page.goto(`${c.consoleUrl}#/traces/${EVIL_TRACE_ID}`);
    await page.waitForSelector('.span-detail:not([hidden])', WAIT);
    assertEvilSpanIsText(await page.evaluate(evilSpanShown));
  });

  test('no page raised a script error', () => {
    assert.deepEqual(problems, []);
  });
});
