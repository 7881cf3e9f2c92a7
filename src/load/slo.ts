// Service-level objectives given as `--slo "p99<200ms"`: parsed once, then checked against the run's figures.
// A leaf module: the aggregation calls it with the summary's figures, so nothing here imports the summary type.

type Op = '<' | '<=' | '>' | '>=';
type LatencyMetric = 'min' | 'max' | 'mean' | 'p50' | 'p90' | 'p95' | 'p99' | 'p99.9';

export type Slo =
  | { expr: string; kind: 'latency'; metric: LatencyMetric; op: Op; value: number /* ms */ }
  | { expr: string; kind: 'errors' | 'late'; op: Op; value: number; percent: boolean }
  | { expr: string; kind: 'rate'; op: Op; value: number /* req/s */ };

export interface SloResult {
  expr: string;
  ok: boolean;
  actual: number;
  unit: string;
}

/** The figures an objective can be checked against: the part of the summary that `checkSlos` reads. */
export interface SloFigures {
  latencyMs: Record<'min' | 'max' | 'mean' | 'p50' | 'p90' | 'p95' | 'p99' | 'p999', number>;
  requests: { total: number; successful: number; failed: number; late: number };
  rate: { actual: number };
}

const LATENCY_UNITS: Record<string, number> = { us: 1e-3, µs: 1e-3, ms: 1, s: 1000 };

export function parseSlo(raw: string): { slo: Slo } | { error: string } {
  const expr = raw.trim();
  const m = /^([a-z][a-z0-9.]*)\s*(<=|>=|<|>)\s*(\d+(?:\.\d+)?)\s*([a-zµ/%]*)$/i.exec(expr);
  const bad = (why: string): { error: string } => ({ error: `${JSON.stringify(raw)}: ${why}` });
  if (!m) return bad('expected METRIC OP VALUE, e.g. "p99<200ms", "errors<1%", "rate>=45"');
  const name = (m[1] ?? '').toLowerCase();
  const op = m[2] as Op;
  const value = Number(m[3]);
  const unit = (m[4] ?? '').toLowerCase();
  const metric = name === 'p999' ? 'p99.9' : name === 'median' ? 'p50' : name;
  if (['min', 'max', 'mean', 'p50', 'p90', 'p95', 'p99', 'p99.9'].includes(metric)) {
    const scale = LATENCY_UNITS[unit === '' ? 'ms' : unit];
    if (scale === undefined) return bad(`latency unit must be us, ms or s (got "${unit}")`);
    return { slo: { expr, kind: 'latency', metric: metric as LatencyMetric, op, value: value * scale } };
  }
  if (metric === 'errors' || metric === 'late') {
    if (unit !== '' && unit !== '%') return bad(`${metric} takes a percentage (1%) or a count (5)`);
    return { slo: { expr, kind: metric, op, value, percent: unit === '%' } };
  }
  if (metric === 'rate') {
    if (unit !== '' && unit !== 'req/s' && unit !== '/s') return bad('rate is in req/s');
    return { slo: { expr, kind: 'rate', op, value } };
  }
  return bad(`unknown metric "${name}": use min, max, mean, p50, p90, p95, p99, p99.9, errors, late or rate`);
}

function holds(actual: number, op: Op, value: number): boolean {
  switch (op) {
    case '<':
      return actual < value;
    case '<=':
      return actual <= value;
    case '>':
      return actual > value;
    case '>=':
      return actual >= value;
  }
}

/** Checks each objective against the figures. Latency objectives use the latency from the scheduled start. */
export function checkSlos(slos: readonly Slo[], summary: SloFigures): SloResult[] {
  return slos.map((slo) => {
    let actual: number;
    let unit: string;
    switch (slo.kind) {
      case 'latency': {
        const l = summary.latencyMs;
        const byMetric: Record<LatencyMetric, number> = {
          min: l.min,
          max: l.max,
          mean: l.mean,
          p50: l.p50,
          p90: l.p90,
          p95: l.p95,
          p99: l.p99,
          'p99.9': l.p999,
        };
        // No successful request means no latency to vouch for: the objective fails.
        actual = summary.requests.successful === 0 ? Number.POSITIVE_INFINITY : byMetric[slo.metric];
        unit = 'ms';
        break;
      }
      case 'errors':
      case 'late': {
        const count = slo.kind === 'errors' ? summary.requests.failed : summary.requests.late;
        const total = Math.max(1, summary.requests.total);
        actual = slo.percent ? (100 * count) / total : count;
        unit = slo.percent ? '%' : '';
        break;
      }
      case 'rate':
        actual = summary.rate.actual;
        unit = ' req/s';
        break;
    }
    return { expr: slo.expr, ok: holds(actual, slo.op, slo.value), actual, unit };
  });
}
