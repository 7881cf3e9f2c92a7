// The HTML report in Debian's Firefox ESR (puppeteer-core over WebDriver BiDi): the same runs and checks as
// report-browser.test.ts, the report opened from file://. Screenshots go to SCREENSHOT_DIR with a -firefox suffix.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'puppeteer-core';
import { SCREENSHOT_DIR, launchFirefox } from '../helpers/browser.ts';
import {
  assertHealthyReport, assertMarkupReport, chartsReady, healthyRun, markupRun, reportShown, startReportRig, problemWatch,
  type ReportRig,
} from '../helpers/report-journeys.ts';

let rig: ReportRig;
let browser: Browser;

before(async () => {
  rig = await startReportRig();
  browser = await launchFirefox();
});

after(async () => {
  await browser?.close();
  await rig?.stop();
});

/** Opens a report and collects what the browser complains about. */
async function open(file: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1200, height: 900 });
  const watch = problemWatch();
  page.on('pageerror', watch.pageerror);
  page.on('console', watch.console);
  page.on('request', watch.request);
  await page.goto(pathToFileURL(file).href);
  await page.waitForFunction(chartsReady, { timeout: 10_000 });
  return { page, problems: watch.problems };
}

test('a report from a short run against the real service draws its four charts, its verdict and its trace audit in Firefox', async () => {
  const { file, summary } = await healthyRun(rig, 'run');
  const { page, problems } = await open(file);
  assertHealthyReport(await page.evaluate(reportShown), summary);
  await page.screenshot({ path: join(SCREENSHOT_DIR, 'load-report-firefox.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});

test('in Firefox, an error text holding markup is shown as text, and a missed objective turns the banner red', async () => {
  const { page, problems } = await open(await markupRun(rig, 'markup'));
  assertMarkupReport(await page.evaluate(reportShown));
  await page.screenshot({ path: join(SCREENSHOT_DIR, 'load-report-failed-firefox.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});
