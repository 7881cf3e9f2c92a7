// OTEL_METRICS_EXPORTER=prometheus: /metrics in the Prometheus text format, from the SDK's PrometheusExporter
// reader, with names translated as the OpenTelemetry specification's Prometheus compatibility rules say (unit
// suffix, `_ratio`, `_total`). The JS exporter adds `_total` but no unit suffix; the Collector's `prometheus`
// exporter and Prometheus' own OTLP receiver add both. Translating here gives one name per metric on every path
// to Prometheus (docs/PROMETHEUS.md has the table).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { DataPointType, type MetricData, type MetricProducer, type ResourceMetrics } from '@opentelemetry/sdk-metrics';

// The specification's unit words (and the Collector's translator's), by UCUM unit.
const UNIT_WORDS: Record<string, string> = {
  d: 'days', h: 'hours', min: 'minutes', s: 'seconds', ms: 'milliseconds', us: 'microseconds', ns: 'nanoseconds',
  By: 'bytes', KiBy: 'kibibytes', MiBy: 'mebibytes', GiBy: 'gibibytes', TiBy: 'tibibytes',
  KBy: 'kilobytes', MBy: 'megabytes', GBy: 'gigabytes', TBy: 'terabytes',
  m: 'meters', V: 'volts', A: 'amperes', J: 'joules', W: 'watts', g: 'grams', Cel: 'celsius', Hz: 'hertz', '%': 'percent',
};
const PER_UNIT_WORDS: Record<string, string> = { s: 'second', m: 'minute', h: 'hour', d: 'day', w: 'week', mo: 'month', y: 'year' };

const sanitize = (s: string) => s.replace(/[^a-zA-Z0-9_:]/g, '_').replace(/_{2,}/g, '_').replace(/^_|_$/g, '');

/** The unit's suffix words: `{request}` none, `ms` milliseconds, `By/s` bytes_per_second, `1` ratio (gauges). */
function unitSuffix(unit: string, gauge: boolean): string[] {
  if (unit === '1') return gauge ? ['ratio'] : [];
  const [main = '', per] = unit.split('/', 2);
  const words: string[] = [];
  // Annotations in braces ({request}) carry no unit.
  const m = main.replace(/\{[^}]*\}/g, '').trim();
  if (m !== '') words.push(UNIT_WORDS[m] ?? sanitize(m));
  const p = per?.replace(/\{[^}]*\}/g, '').trim();
  if (p) words.push('per', PER_UNIT_WORDS[p] ?? sanitize(p));
  return words.filter((w) => w !== '');
}

/**
 * The Prometheus name of an OpenTelemetry metric, as the Collector's `prometheus` exporter writes it (with its
 * default add_metric_suffixes): dots to underscores, the unit's words appended unless the name has them already,
 * `_total` on monotonic sums (after the unit), `_ratio` on gauges of unit 1.
 */
export function prometheusName(name: string, unit: string, type: 'counter' | 'gauge' | 'histogram'): string {
  let tokens = sanitize(name).split('_').filter((t) => t !== '');
  if (type === 'counter') tokens = tokens.filter((t) => t !== 'total');
  for (const word of unitSuffix(unit, type === 'gauge')) if (!tokens.includes(word) || word === 'per') tokens.push(word);
  if (type === 'counter') tokens.push('total');
  const out = tokens.join('_');
  return /^[0-9]/.test(out) ? `_${out}` : out;
}

function kind(m: MetricData): 'counter' | 'gauge' | 'histogram' {
  if (m.dataPointType === DataPointType.HISTOGRAM) return 'histogram';
  return m.dataPointType === DataPointType.SUM && m.isMonotonic ? 'counter' : 'gauge';
}

/** The collection with every metric renamed by prometheusName (the serializer then keeps `_total` as it is). */
export function withPrometheusNames(rm: ResourceMetrics): ResourceMetrics {
  return {
    resource: rm.resource,
    scopeMetrics: rm.scopeMetrics.map((sm) => ({
      scope: sm.scope,
      metrics: sm.metrics.map((m) => ({ ...m, descriptor: { ...m.descriptor, name: prometheusName(m.descriptor.name, m.descriptor.unit, kind(m)) } }) as MetricData),
    })),
  };
}

/** The reader Prometheus scrapes and the HTTP server that serves it. */
export class PrometheusEndpoint {
  readonly reader: PrometheusExporter;
  private readonly server: Server;
  private readonly serializer = new PrometheusSerializer('', false);

  /** `producers`: metrics the SDK does not aggregate itself (the histogram tables), cumulative. */
  constructor(producers: MetricProducer[]) {
    // The exporter's own server would serve the names untranslated; this one serves them translated.
    this.reader = new PrometheusExporter({ preventServerStart: true, metricProducers: producers });
    this.server = createServer((req, res) => {
      if (req.method !== 'GET' || new URL(req.url ?? '/', 'http://x').pathname !== '/metrics') {
        res.statusCode = 404;
        res.end();
        return;
      }
      this.reader.collect().then(
        ({ resourceMetrics }) => {
          res.setHeader('content-type', 'text/plain; version=0.0.4; charset=utf-8');
          res.end(this.serializer.serialize(withPrometheusNames(resourceMetrics)));
        },
        (err: unknown) => {
          res.statusCode = 500;
          res.end(`# failed to collect metrics: ${String(err)}\n`);
        },
      );
    });
  }

  /** Listens on host:port (0 picks a free port); resolves with the /metrics URL. */
  listen(host: string, port: number): Promise<string> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port }, () => {
        const a = this.server.address() as AddressInfo;
        resolve(`http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}/metrics`);
      });
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
