// The console's JSON API over a real receiver: OTLP/HTTP JSON exports in, /api/* answers out; and the store's
// limits, which hold however much arrives.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { OtlpReceiver } from '../../src/receiver/receiver.ts';
import { ConsoleStore, quantile } from '../../src/receiver/console/store.ts';
import { decodeJson, spansOf } from '../../src/receiver/otlp-model.ts';

const NOW = BigInt(Date.now()) * 1_000_000n;
const id = (n: number, len: number) => n.toString(16).padStart(len, '0');
const str = (key: string, value: string) => ({ key, value: { stringValue: value } });

function span(traceId: string, spanId: string, name: string, o: { parent?: string; startMs?: number; durMs?: number; error?: boolean; links?: { traceId: string; spanId: string }[]; route?: string } = {}) {
  const start = NOW + BigInt((o.startMs ?? 0) * 1e6);
  return {
    traceId, spanId, parentSpanId: o.parent ?? '', name, kind: o.parent ? 1 : 2,
    startTimeUnixNano: String(start), endTimeUnixNano: String(start + BigInt((o.durMs ?? 1) * 1e6)),
    attributes: o.route ? [str('http.route', o.route)] : [],
    status: o.error ? { code: 2, message: 'boom' } : {},
    links: o.links ?? [],
  };
}
const traces = (...spans: object[]) => ({ resourceSpans: [{ resource: { attributes: [str('service.name', 'svc')] }, scopeSpans: [{ scope: { name: 't' }, spans }] }] });

describe('the console API', () => {
  let receiver: OtlpReceiver;
  let api: string;
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${receiver.httpUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(res.status, 200, await res.text());
  };
  const get = async (path: string) => {
    const res = await fetch(`${api}${path}`);
    return { status: res.status, body: (await res.json()) as any };
  };

  before(async () => {
    receiver = new OtlpReceiver({ grpcPort: 0, httpPort: 0, healthPort: 0, console: { enabled: true, port: 0 } });
    await receiver.start();
    api = receiver.consoleUrl.replace(/\/$/, '');
    const request = id(1, 32);
    const batch = id(2, 32);
    await post('/v1/traces', traces(
      span(request, id(1, 16), 'POST /predict', { durMs: 30, route: '/predict' }),
      span(request, id(2, 16), 'inference', { parent: id(1, 16), startMs: 2, durMs: 20 }),
      // A batch span in a trace of its own, linking to the request it served.
      span(batch, id(3, 16), 'batch', { startMs: 5, durMs: 15, links: [{ traceId: request, spanId: id(2, 16) }] }),
      span(id(3, 32), id(4, 16), 'GET /health', { startMs: 40, durMs: 1, route: '/health', error: true }),
    ));
    await post('/v1/logs', { resourceLogs: [{ resource: { attributes: [str('service.name', 'svc')] }, scopeLogs: [{ scope: { name: 't' }, logRecords: [
      { timeUnixNano: String(NOW), severityNumber: 9, severityText: 'info', body: { stringValue: 'Prediction completed' }, traceId: request, spanId: id(1, 16) },
      { timeUnixNano: String(NOW), severityNumber: 17, severityText: 'error', body: { stringValue: 'health failed' }, traceId: id(3, 32), spanId: id(4, 16) },
    ] }] }] });
    const sum = (value: number, t: number) => ({ name: 'http_requests_total', sum: { isMonotonic: true, aggregationTemporality: 2, dataPoints: [{ asInt: String(value), timeUnixNano: String(NOW + BigInt(t * 1e9)), attributes: [str('endpoint', '/predict')] }] } });
    const histogram = (counts: number[], t: number) => ({ name: 'prediction_latency_ms', unit: 'ms', histogram: { aggregationTemporality: 2, dataPoints: [{ count: String(counts.reduce((a, b) => a + b)), sum: 1, timeUnixNano: String(NOW + BigInt(t * 1e9)), bucketCounts: counts.map(String), explicitBounds: [10, 20] }] } });
    for (const [t, value, counts] of [[0, 10, [1, 0, 0]], [5, 60, [1, 10, 0]]] as const) {
      await post('/v1/metrics', { resourceMetrics: [{ scopeMetrics: [{ scope: { name: 't' }, metrics: [sum(value, t), histogram([...counts], t)] }] }] });
    }
  });
  after(() => receiver.stop());

  test('traces are listed newest first and filtered by name or route, duration, errors and trace id', async () => {
    const names = async (q: string) => (await get(`/api/traces${q}`)).body.traces.map((t: { rootName: string }) => t.rootName);
    assert.deepEqual(await names(''), ['GET /health', 'batch', 'POST /predict']);
    assert.deepEqual(await names('?name=predict'), ['POST /predict']);
    assert.deepEqual(await names('?name=%2Fhealth'), ['GET /health']);
    assert.deepEqual(await names('?minDurationMs=14'), ['batch', 'POST /predict']);
    assert.deepEqual(await names('?errors=true'), ['GET /health']);
    assert.deepEqual(await names(`?traceId=${id(2, 32)}`), ['batch']);
  });

  test('a trace has its spans with timing, its log records, and links followed both ways', async () => {
    const request = (await get(`/api/traces/${id(1, 32)}`)).body;
    assert.deepEqual(request.spans.map((s: { name: string; startOffsetMs: number; durationMs: number }) => [s.name, s.startOffsetMs, s.durationMs]), [['POST /predict', 0, 30], ['inference', 2, 20]]);
    assert.deepEqual(request.logs.map((l: { body: string }) => l.body), ['Prediction completed']);
    assert.deepEqual(request.linkedFrom.map((l: { traceId: string; name: string; toSpanId: string }) => [l.traceId, l.name, l.toSpanId]), [[id(2, 32), 'batch', id(2, 16)]]);
    const batch = (await get(`/api/traces/${id(2, 32)}`)).body;
    assert.deepEqual(batch.spans[0].links.map((l: { traceId: string; stored: boolean }) => [l.traceId, l.stored]), [[id(1, 32), true]]);
    assert.equal((await get(`/api/traces/${id(9, 32)}`)).status, 404);
  });

  test('logs are searched by text, severity and trace id, newest first', async () => {
    const bodies = async (q: string) => (await get(`/api/logs${q}`)).body.logs.map((l: { body: string }) => l.body);
    assert.deepEqual(await bodies(''), ['health failed', 'Prediction completed']);
    assert.deepEqual(await bodies('?q=PREDICTION'), ['Prediction completed']);
    assert.deepEqual(await bodies('?minSeverity=13'), ['health failed']);
    assert.deepEqual(await bodies(`?traceId=${id(1, 32)}`), ['Prediction completed']);
  });

  test('a counter is drawn as a rate per second and a histogram as percentiles and buckets', async () => {
    assert.deepEqual((await get('/api/metrics')).body.metrics.map((m: { name: string }) => m.name), ['http_requests_total', 'prediction_latency_ms']);
    const counter = (await get('/api/metrics/http_requests_total')).body;
    assert.equal(counter.chart.kind, 'rate');
    assert.deepEqual(counter.chart.lines[0].values, [null, 10]); // (60 - 10) / 5 s
    assert.deepEqual(counter.series.map((s: { attributes: object }) => s.attributes), [{ endpoint: '/predict' }]);
    const latency = (await get('/api/metrics/prediction_latency_ms')).body;
    assert.equal(latency.chart.kind, 'quantiles');
    assert.deepEqual(latency.chart.lines.map((l: { label: string }) => l.label), ['p50', 'p95', 'p99']);
    assert.deepEqual(latency.chart.lines[0].values, [15]); // the interval's 10 observations all fell in (10, 20]
    assert.deepEqual(latency.buckets, { bounds: [10, 20], counts: [1, 10, 0] });
    const one = (await get(`/api/metrics/http_requests_total?series=${counter.series[0].id}`)).body;
    assert.equal(one.chart.lines.length, 1);
  });

  test('stats count what is stored and what was evicted', async () => {
    const { stored, evicted } = (await get('/api/stats')).body;
    assert.deepEqual(stored, { traces: 3, spans: 4, logs: 2, metrics: 2, series: 2, points: 4 });
    assert.deepEqual(evicted, { traces: 0, spans: 0, logs: 0, series: 0, points: 0 });
  });
});

test('the stores keep at most their limits and count what they evicted', () => {
  const store = new ConsoleStore({ maxTraces: 10, maxSpansPerTrace: 3, maxLogs: 5, maxSeries: 4, maxPointsPerSeries: 2 });
  for (let i = 0; i < 100; i++) {
    // Each trace gets 5 spans of which 3 are kept.
    store.addSpans(spansOf(decodeJson('traces', JSON.stringify(traces(...[1, 2, 3, 4, 5].map((s) => span(id(i + 1, 32), id(s, 16), 'a')))))));
    store.addLogs([{ timeUnixNano: 0n, traceId: '', spanId: '', severityNumber: 9, severityText: 'info', eventName: '', body: `line ${i}`, attributes: {}, resource: {}, scope: { name: '', version: '' } }]);
    store.addMetrics([{ name: 'm', description: '', unit: '', type: 'Gauge', resource: {}, scope: { name: '', version: '' }, dataPoints: [{ attributes: { i: i % 4 }, timeUnixNano: BigInt(i) * 1_000_000_000n, value: i }] }]);
  }
  const before = store.stats();
  assert.deepEqual([before.stored.series, before.stored.points, before.evicted.points], [4, 8, 92]);
  // Ten new series push the four old ones out, least recently updated first.
  for (let i = 0; i < 10; i++) store.addMetrics([{ name: 'm', description: '', unit: '', type: 'Gauge', resource: {}, scope: { name: '', version: '' }, dataPoints: [{ attributes: { new: i }, timeUnixNano: 0n, value: i }] }]);
  const { stored, evicted } = store.stats();
  assert.deepEqual(stored, { traces: 10, spans: 30, logs: 5, metrics: 1, series: 4, points: 4 });
  assert.deepEqual(evicted, { traces: 90, spans: 100 * 2 + 90 * 3, logs: 95, series: 10, points: 92 + 8 + 6 });
  assert.deepEqual(store.listLogs().map((l) => l.body), ['line 99', 'line 98', 'line 97', 'line 96', 'line 95']);
});

test('percentiles interpolate inside the bucket that holds them', () => {
  assert.equal(quantile(0.5, [0, 10, 0], [10, 20]), 15);
  assert.equal(quantile(0.99, [0, 0, 5], [10, 20]), 20, 'the overflow bucket reports its lower bound');
  assert.equal(quantile(0.5, [0, 0, 0], [10, 20]), null);
});

test('a receiver whose console port is taken still receives, and says why it has no console', async () => {
  const first = new OtlpReceiver({ grpcPort: 0, httpPort: 0, healthPort: 0, console: { enabled: true, port: 0 } });
  await first.start();
  const second = new OtlpReceiver({ grpcPort: 0, httpPort: 0, healthPort: 0, console: { enabled: true, port: Number(new URL(first.consoleUrl).port) } });
  try {
    await second.start();
    assert.equal(second.consoleUrl, '');
    assert.match(second.consoleError, /EADDRINUSE/);
    const res = await fetch(`${second.httpUrl}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(traces(span(id(7, 32), id(7, 16), 'x'))) });
    assert.equal(res.status, 200);
  } finally {
    await second.stop();
    await first.stop();
  }
});
