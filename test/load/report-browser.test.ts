// The HTML report in a real browser: short load runs against the real service (dist/: `npm run build` first), with
// the real receiver for the trace audit, write reports that Chromium opens from file://.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { SCREENSHOT_DIR, launchBrowser } from '../helpers/browser.ts';
import {
  assertHealthyReport, assertMarkupReport, chartsReady, healthyRun, markupRun, reportShown, startReportRig, problemWatch,
  type ReportRig,
} from '../helpers/report-journeys.ts';

let rig: ReportRig;
let browser: Browser;

before(async () => {
  rig = await startReportRig();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await rig?.stop();
});

/** Opens a report and collects what the browser complains about. */
async function open(file: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const watch = problemWatch();
  page.on('pageerror', watch.pageerror);
  page.on('console', watch.console);
  page.on('request', watch.request);
  await page.goto(pathToFileURL(file).href);
  await page.waitForFunction(chartsReady, null, { timeout: 10_000 });
  return { page, problems: watch.problems };
}

test('a report from a short run against the real service draws its four charts, its verdict and its trace audit in Chromium', async () => {
  const { file, summary } = await healthyRun(rig, 'run');
  const { page, problems } = await open(file);
  assertHealthyReport(await page.evaluate(reportShown), summary);

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
  const { page, problems } = await open(await markupRun(rig, 'markup'));
  assertMarkupReport(await page.evaluate(reportShown));
  await page.screenshot({ path: join(SCREENSHOT_DIR, 'load-report-failed.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});
