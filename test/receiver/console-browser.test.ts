// The console in a real browser: `npm start`'s service with its embedded receiver, predictions made over HTTP, and
// Debian's chromium finding them on the console's pages. Screenshots go to SCREENSHOT_DIR (test-results/screenshots).
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, SCREENSHOT_DIR } from '../helpers/browser.ts';
import { freePort, postJson, startService, type RunningService } from '../helpers/service.ts';

const WAIT = { timeout: 20_000 };

describe('the console in a browser', () => {
  let svc: RunningService;
  let browser: Browser;
  let page: Page;
  let consoleUrl: string;
  let receiverHttp: string;
  const predict = (features = [0.5, 1.5, 2.0]) => postJson(`${svc.url}/predict`, { features });

  before(async () => {
    const httpPort = await freePort();
    receiverHttp = `http://127.0.0.1:${httpPort}`;
    svc = await startService({
      RECEIVER_GRPC_PORT: String(await freePort()),
      RECEIVER_HTTP_PORT: String(httpPort),
      RECEIVER_HEALTH_PORT: String(await freePort()),
      RECEIVER_CONSOLE_PORT: '0',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_METRIC_EXPORT_INTERVAL: '500',
      DEFAULT_LATENCY_MS: '20',
    });
    // The console's line comes right after "Server running on", which startService waits for.
    let line: Record<string, unknown> | undefined;
    for (let i = 0; i < 100 && line === undefined; i++) {
      line = svc.logLines().find((l) => String(l.msg).startsWith('Console: open'));
      if (line === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(line, `the start-up log names the console's URL:\n${svc.logs()}`);
    consoleUrl = String(line.url);
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  });
  after(async () => {
    await browser?.close();
    if (svc) assert.equal(await svc.stop(), 0);
  });

  test('the start-up log prints a loopback URL for the console', () => {
    assert.match(consoleUrl, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  test("a prediction's trace is found by the trace id in its answer; its waterfall shows the four spans and their logs", async () => {
    for (let i = 0; i < 4; i++) assert.equal((await predict([i, 1, 2])).status, 200);
    assert.equal((await postJson(`${svc.url}/predict`, { features: 'not a list' })).status, 422);
    const res = await predict();
    const traceId = res.body.trace_id as string;
    assert.match(traceId, /^[0-9a-f]{32}$/);

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
    for (let i = 0; i < 40 && (await names()).length < 4; i++) {
      await page.waitForTimeout(250);
      if ((await names()).length < 4) await page.getByRole('button', { name: 'Refresh' }).click();
    }
    const shown = await names();
    assert.equal(shown.length, 4, `four spans: ${shown.join(' | ')}`);
    for (const [i, name] of ['POST /predict', 'preprocess', 'inference', 'postprocess'].entries()) assert.ok(shown[i]!.startsWith(name), `span ${i} is ${name}: ${shown[i]}`);
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
    for (let i = 0; i < 40 && !(await logs.textContent().catch(() => ''))?.includes('Prediction completed'); i++) {
      await page.waitForTimeout(250);
      await page.getByRole('button', { name: 'Refresh' }).click();
    }
    const logText = (await logs.textContent()) ?? '';
    assert.match(logText, /Prediction request received/);
    assert.match(logText, /Prediction completed - latency: \d+ms/);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'console-trace.png'), fullPage: true });
  });

  test("the metrics page draws the guide's http_requests_total and prediction_latency_ms with uPlot", async () => {
    await page.goto(`${consoleUrl}#/metrics`);
    // Rates and per-interval percentiles need two exports with requests between them: keep a trickle going.
    let drawn = false;
    for (let i = 0; i < 80 && !drawn; i++) {
      await predict([i, 2, 3]);
      drawn = await page.evaluate(() =>
        ['http_requests_total', 'prediction_latency_ms'].every((name) => {
          const card = document.querySelector<HTMLElement>(`section[data-metric="${name}"]`);
          return card !== null && card.querySelector('canvas') !== null && Number(card.dataset.points ?? 0) > 0;
        }),
      );
      if (!drawn) await page.waitForTimeout(250);
    }
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
    const traceId = 'abcdef0123456789abcdef0123456789';
    const evil = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">';
    const now = BigInt(Date.now()) * 1_000_000n;
    const body = {
      resourceSpans: [{
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'evil<b>svc</b>' } }] },
        scopeSpans: [{ scope: { name: 'test' }, spans: [{
          traceId, spanId: '0123456789abcdef', name: '<b>bold?</b>', kind: 2,
          startTimeUnixNano: String(now), endTimeUnixNano: String(now + 5_000_000n),
          attributes: [{ key: 'user.input', value: { stringValue: evil } }],
        }] }],
      }],
    };
    assert.equal((await postJson(`${receiverHttp}/v1/traces`, body)).status, 200);
    await page.goto(`${consoleUrl}#/traces/${traceId}`);
    await page.locator('.span-detail:visible').first().waitFor(WAIT);
    const cell = page.locator('.span-detail td', { hasText: 'window.__pwned = 1' });
    assert.equal(await cell.textContent(), evil, 'the attribute value is shown character for character');
    assert.equal(await page.locator('.span-row .span-name').first().evaluate((e) => e.querySelector('b')), null, 'a span name is text, not markup');
    assert.equal(await page.locator('main script, main img').count(), 0, 'nothing received became an element');
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
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
    assert.equal((await postJson(`${receiverHttp}/v1/traces`, body)).status, 200);
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
