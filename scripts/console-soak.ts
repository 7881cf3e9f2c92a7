// The console's stores under a long stream: `node --expose-gc scripts/console-soak.ts [--rate 1000] [--seconds 60]`
// sends what a service answering RATE predictions a second for SECONDS would export (per request a trace of 4 spans
// and 2 log records; metrics every 5 s), as fast as the receiver takes it, over OTLP/HTTP protobuf to a real
// receiver with its console, and prints the stores' counts and the heap after GC every 10 simulated seconds.
import { parseArgs } from 'node:util';
import { OtlpReceiver } from '../src/receiver/receiver.ts';
import { SIGNALS, type Signal } from '../src/receiver/otlp-model.ts';

const { values } = parseArgs({ options: { rate: { type: 'string', default: '1000' }, seconds: { type: 'string', default: '60' } } });
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

const receiver = new OtlpReceiver({ grpcPort: 0, httpPort: 0, healthPort: 0, print: false, console: { enabled: true, port: 0 } });
await receiver.start();

const resource = { attributes: [{ key: 'service.name', value: { stringValue: 'ai-inference-service' } }] };
const kv = (key: string, value: string) => ({ key, value: { stringValue: value } });
let ids = 0;
const newId = (bytes: number) => {
  const b = Buffer.alloc(bytes);
  b.writeUInt32BE(++ids, bytes - 4);
  b.writeUInt32BE((Math.random() * 2 ** 32) >>> 0, 0);
  return b;
};

async function send(signal: Signal, body: object): Promise<void> {
  const type = SIGNALS[signal].request;
  const bytes = type.encode(type.fromObject(body)).finish();
  const res = await fetch(`${receiver.httpUrl}/v1/${signal}`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: Buffer.from(bytes) });
  if (res.status !== 200) throw new Error(`${signal}: ${res.status} ${await res.text()}`);
}

function request(startNs: bigint) {
  const traceId = newId(16);
  const root = newId(8);
  const span = (name: string, spanId: Buffer, parent: Buffer | undefined, offMs: number, durMs: number, attributes: object[]) => ({
    traceId, spanId, parentSpanId: parent, name, kind: parent ? 1 : 2, attributes,
    startTimeUnixNano: String(startNs + BigInt(Math.round(offMs * 1e6))), endTimeUnixNano: String(startNs + BigInt(Math.round((offMs + durMs) * 1e6))),
  });
  const spans = [
    span('POST /predict', root, undefined, 0, 104, [kv('http.route', '/predict'), kv('http.request.method', 'POST')]),
    span('preprocess', newId(8), root, 1, 0.1, []),
    span('inference', newId(8), root, 1.2, 100, [kv('model.name', 'simple-linear-demo')]),
    span('postprocess', newId(8), root, 101.3, 0.1, []),
  ];
  const logs = ['Prediction request received', 'Prediction completed - latency: 100ms'].map((text) => ({
    timeUnixNano: String(startNs), severityNumber: 9, severityText: 'info', body: { stringValue: text }, traceId, spanId: root,
  }));
  return { spans, logs };
}

function metrics(second: number, startNs: bigint) {
  const n = rate * second;
  const time = String(startNs);
  const runtime = Array.from({ length: 30 }, (_, i) => ({ name: `nodejs.runtime.metric_${i}`, gauge: { dataPoints: [{ asDouble: Math.random(), timeUnixNano: time }] } }));
  return {
    resourceMetrics: [{ resource, scopeMetrics: [{ scope: { name: 'ai-inference-service' }, metrics: [
      { name: 'http_requests_total', sum: { isMonotonic: true, aggregationTemporality: 2, dataPoints: [{ asInt: n, timeUnixNano: time, attributes: [kv('endpoint', '/predict'), kv('status', '200')] }] } },
      { name: 'prediction_latency_ms', unit: 'ms', histogram: { aggregationTemporality: 2, dataPoints: [{ count: n, sum: n * 100, timeUnixNano: time, explicitBounds: [50, 100, 150, 200, 250], bucketCounts: [0, n, 0, 0, 0, 0] }] } },
      ...runtime,
    ] }] }],
  };
}

const mb = (x: number) => (x / 1024 / 1024).toFixed(1);
const t0 = BigInt(Date.now() - seconds * 1000) * 1_000_000n;
const wall = performance.now();
console.log('| simulated s | spans received | traces stored | spans stored | logs stored | series stored | evicted traces | evicted logs | heap used MB (after GC) | RSS MB |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (let s = 1; s <= seconds; s++) {
  const startNs = t0 + BigInt(s) * 1_000_000_000n;
  let spans: object[] = [];
  let logs: object[] = [];
  for (let r = 0; r < rate; r++) {
    const one = request(startNs + BigInt(Math.floor((r / rate) * 1e9)));
    spans.push(...one.spans);
    logs.push(...one.logs);
    // The SDK's batch processors export at most 512 items at a time.
    if (spans.length >= 512) {
      await send('traces', { resourceSpans: [{ resource, scopeSpans: [{ scope: { name: 'ai-inference-service' }, spans }] }] });
      spans = [];
    }
    if (logs.length >= 512) {
      await send('logs', { resourceLogs: [{ resource, scopeLogs: [{ scope: { name: 'ai-inference-service' }, logRecords: logs }] }] });
      logs = [];
    }
  }
  if (spans.length > 0) await send('traces', { resourceSpans: [{ resource, scopeSpans: [{ scope: { name: 'ai-inference-service' }, spans }] }] });
  if (logs.length > 0) await send('logs', { resourceLogs: [{ resource, scopeLogs: [{ scope: { name: 'ai-inference-service' }, logRecords: logs }] }] });
  if (s % 5 === 0) await send('metrics', metrics(s, startNs));
  if (s % 10 === 0 || s === seconds) {
    gc();
    const { stored, evicted } = receiver.consoleStore!.stats();
    const mem = process.memoryUsage();
    console.log(`| ${s} | ${receiver.counts.spans} | ${stored.traces} | ${stored.spans} | ${stored.logs} | ${stored.series} | ${evicted.traces} | ${evicted.logs} | ${mb(mem.heapUsed)} | ${mb(mem.rss)} |`);
  }
}
console.log(`\n${rate * seconds} requests' telemetry (${receiver.counts.spans} spans, ${receiver.counts.logRecords} log records) in ${((performance.now() - wall) / 1000).toFixed(1)} s of wall time; console limits ${JSON.stringify(receiver.consoleStore!.limits)}`);
await receiver.stop();
