// What the console's browser tests share, whichever browser drives the page: the service with its embedded
// receiver and console, the data a journey needs, and the checks of what the page must show.
import assert from 'node:assert/strict';
import { freePort, postJson, startService, type RunningService } from './service.ts';

export interface ConsoleUnderTest {
  svc: RunningService;
  /** The console's URL, as the start-up log prints it (ends with `/`). */
  consoleUrl: string;
  /** The embedded receiver's OTLP/HTTP base URL. */
  receiverHttp: string;
  predict(features?: number[]): Promise<{ status: number; body: Record<string, unknown> }>;
}

/** `npm start`'s service with the console on, exporting fast so the pages fill within a second or two. */
export async function startConsole(): Promise<ConsoleUnderTest> {
  const httpPort = await freePort();
  const receiverHttp = `http://127.0.0.1:${httpPort}`;
  const svc = await startService({
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
  const predict = (features = [0.5, 1.5, 2.0]) => postJson(`${svc.url}/predict`, { features });
  return { svc, consoleUrl: String(line.url), receiverHttp, predict };
}

/** A few predictions and one refused request around the one whose trace id is returned. */
export async function predictionAmongOthers(c: ConsoleUnderTest): Promise<string> {
  for (let i = 0; i < 4; i++) assert.equal((await c.predict([i, 1, 2])).status, 200);
  assert.equal((await postJson(`${c.svc.url}/predict`, { features: 'not a list' })).status, 422);
  const traceId = (await c.predict()).body.trace_id as string;
  assert.match(traceId, /^[0-9a-f]{32}$/);
  return traceId;
}

/** Polls `done` up to ~10 s, pressing the page's Refresh (via `refresh`) between looks. */
export async function refreshUntil(done: () => Promise<boolean>, refresh: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 40 && !(await done()); i++) {
    await new Promise((r) => setTimeout(r, 250));
    if (!(await done())) await refresh();
  }
}

export const PREDICTION_SPANS = ['POST /predict', 'preprocess', 'inference', 'postprocess'];

/** The waterfall's span names, in order: the server span, then the three pipeline spans. */
export function assertPredictionSpans(shown: string[]): void {
  assert.equal(shown.length, 4, `four spans: ${shown.join(' | ')}`);
  for (const [i, name] of PREDICTION_SPANS.entries()) assert.ok(shown[i]!.startsWith(name), `span ${i} is ${name}: ${shown[i]}`);
}

export function assertPredictionLogs(logText: string): void {
  assert.match(logText, /Prediction request received/);
  assert.match(logText, /Prediction completed - latency: \d+ms/);
}

/** Runs in the page: both of the guide's metrics have a uPlot canvas with data points. */
export function guideMetricsDrawn(): boolean {
  return ['http_requests_total', 'prediction_latency_ms'].every((name) => {
    const card = document.querySelector<HTMLElement>(`section[data-metric="${name}"]`);
    return card !== null && card.querySelector('canvas') !== null && Number(card.dataset.points ?? 0) > 0;
  });
}

/** Keeps a trickle of predictions going (rates need two exports with requests between them) until `drawn`. */
export async function predictUntilDrawn(c: ConsoleUnderTest, drawn: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 80; i++) {
    await c.predict([i, 2, 3]);
    if (await drawn()) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

export const EVIL_TRACE_ID = 'abcdef0123456789abcdef0123456789';
export const EVIL_VALUE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">';

/** Sends the receiver a span whose name, service and attribute hold markup that would run if parsed as HTML. */
export async function postEvilSpan(receiverHttp: string): Promise<void> {
  const now = BigInt(Date.now()) * 1_000_000n;
  const body = {
    resourceSpans: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'evil<b>svc</b>' } }] },
      scopeSpans: [{ scope: { name: 'test' }, spans: [{
        traceId: EVIL_TRACE_ID, spanId: '0123456789abcdef', name: '<b>bold?</b>', kind: 2,
        startTimeUnixNano: String(now), endTimeUnixNano: String(now + 5_000_000n),
        attributes: [{ key: 'user.input', value: { stringValue: EVIL_VALUE } }],
      }] }],
    }],
  };
  assert.equal((await postJson(`${receiverHttp}/v1/traces`, body)).status, 200);
}

/** Runs in the page showing the evil span: what became of the markup. */
export function evilSpanShown(): { cell: string | null; boldInName: boolean; elements: number; pwned: unknown } {
  const cell = [...document.querySelectorAll('.span-detail td')].find((td) => td.textContent?.includes('window.__pwned = 1'));
  return {
    cell: cell?.textContent ?? null,
    boldInName: document.querySelector('.span-row .span-name b') !== null,
    elements: document.querySelectorAll('main script, main img').length,
    pwned: (window as unknown as { __pwned?: number }).__pwned,
  };
}

export function assertEvilSpanIsText(shown: ReturnType<typeof evilSpanShown>): void {
  assert.equal(shown.cell, EVIL_VALUE, 'the attribute value is shown character for character');
  assert.equal(shown.boldInName, false, 'a span name is text, not markup');
  assert.equal(shown.elements, 0, 'nothing received became an element');
  assert.equal(shown.pwned, undefined);
}
