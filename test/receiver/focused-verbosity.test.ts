// Focused verbosity, the default of `npm start`: the service's metrics in the debug exporter's layout when they
// change, the instrumentation libraries' metrics (Node runtime) and unchanged metrics one line per scope.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatExport, MetricMemory } from '../../src/receiver/debug-format.ts';
import { decodeProtobuf, SIGNALS } from '../../src/receiver/otlp-model.ts';

const RUNTIME = { name: '@opentelemetry/instrumentation-runtime-node', version: '0.37.0' };
const SERVICE = { name: 'ai-inference-service', version: '1.0.0' };

/** An export as the SDK sends it: runtime gauges with `runtimePoints` points, the service's counter at `requests`. */
function metricsExport(requests: number, runtimePoints = 5): Record<string, unknown> {
  const gauge = (name: string) => ({
    name,
    gauge: { dataPoints: Array.from({ length: runtimePoints }, (_, i) => ({ asDouble: Math.random(), attributes: [{ key: 'i', value: { intValue: i } }] })) },
  });
  const request = SIGNALS.metrics.request.fromObject({
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'ai-inference-service' } }] },
        scopeMetrics: [
          { scope: RUNTIME, metrics: [gauge('nodejs.eventloop.delay.p99'), gauge('v8js.memory.heap.used')] },
          {
            scope: SERVICE,
            metrics: [
              { name: 'http_requests_total', sum: { isMonotonic: true, aggregationTemporality: 2, dataPoints: [{ asInt: requests, attributes: [{ key: 'endpoint', value: { stringValue: '/predict' } }] }] } },
              { name: 'model_loaded', gauge: { dataPoints: [{ asInt: 1 }] } },
            ],
          },
        ],
      },
    ],
  });
  return decodeProtobuf('metrics', SIGNALS.metrics.request.encode(request).finish());
}

const body = (text: string) => text.split('\n').slice(1, -1); // without the per-export summary line and the final ''

describe('focused verbosity', () => {
  test('summarises instrumentation library scopes in one line and prints the service scope in detail the first time', () => {
    const text = formatExport('metrics', metricsExport(1), 'focused', new Date(), new MetricMemory());
    assert.match(text.split('\n')[0]!, /\tinfo\tMetrics\t\{.*"metrics": 4, "data points": 12\}$/);
    const lines = body(text);
    assert.ok(lines.some((l) => l.endsWith('InstrumentationScope @opentelemetry/instrumentation-runtime-node 0.37.0: 2 metrics, 10 data points (summarised; verbosity detailed prints them)')), text);
    assert.ok(!lines.some((l) => l.includes('nodejs.eventloop.delay.p99')), 'runtime metric names stay out');
    assert.ok(lines.includes('     -> Name: http_requests_total'), text);
    assert.ok(lines.includes('     -> Name: model_loaded'), text);
    assert.ok(lines.includes('     -> service.name: Str(ai-inference-service)'), 'the resource is printed above the detail');
  });

  test('an export whose service metrics did not change takes one line per scope; a change prints only what changed', () => {
    const memory = new MetricMemory();
    formatExport('metrics', metricsExport(3), 'focused', new Date(), memory);
    const idle = body(formatExport('metrics', metricsExport(3, 40), 'focused', new Date(), memory));
    assert.equal(idle.length, 2, idle.join('\n'));
    assert.match(idle[0]!, /\tinfo\tInstrumentationScope @opentelemetry\/instrumentation-runtime-node 0\.37\.0: 2 metrics, 80 data points \(summarised/);
    assert.equal(idle[1], 'InstrumentationScope ai-inference-service 1.0.0: 2 metrics unchanged since the last export');

    const moved = body(formatExport('metrics', metricsExport(4), 'focused', new Date(), memory));
    assert.ok(moved.includes('Metric #0') && moved.includes('     -> Name: http_requests_total') && moved.includes('Value: 4'), moved.join('\n'));
    assert.ok(!moved.includes('     -> Name: model_loaded'), 'the unchanged gauge is left out');
    assert.ok(moved.includes('1 more metric unchanged since the last export'), moved.join('\n'));
  });

  test('detailed verbosity still prints every scope, metric and data point', () => {
    const text = formatExport('metrics', metricsExport(3), 'detailed');
    const lines = body(text);
    assert.ok(lines.includes('     -> Name: nodejs.eventloop.delay.p99'));
    assert.ok(lines.includes('     -> Name: model_loaded'));
    assert.equal(lines.filter((l) => l.startsWith('NumberDataPoints #')).length, 12);
  });
});
