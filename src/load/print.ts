// Printing: the guide's Test 7 text blocks (Configuration, Progress, Results, Latency Distribution, Histogram
// Buckets) plus the audit blocks, and the JSON summary. Functions return strings; the CLI decides where they go.
import type { CliOptions } from './args.ts';
import type { Summary } from './aggregate.ts';
import type { Progress } from './engine.ts';

const RULE = '='.repeat(40);
const BAR_WIDTH = 20; // progress bar, as in the guide
const HIST_WIDTH = 40; // histogram bar at 100 %

const pad = (label: string, width = 20): string => label.padEnd(width);

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  if (ms < 1) return `${ms.toFixed(3)}ms`;
  if (ms < 10) return `${ms.toFixed(2)}ms`;
  return `${ms.toFixed(1)}ms`;
}

function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return s < 10 ? `${s.toFixed(1)}s` : s < 100 ? `${s.toFixed(1)}s` : `${Math.round(s)}s`;
}

/** The banner and Configuration block printed before the run. */
export function formatConfiguration(cli: CliOptions): string {
  const o = cli.load;
  const targets = o.targets !== undefined && o.targets.length > 1 ? o.targets : [o.target];
  const lines = ['Starting load test...', RULE, 'Configuration:', ...targets.map((t) => `  URL: ${t}`)];
  if (targets.length > 1) lines.push(`  Targets: ${targets.length}, round robin per request (a refused connection is resent to another)`);
  if (o.requests !== null) lines.push(`  Total requests: ${o.requests}`);
  else lines.push(`  Duration: ${formatSeconds(o.durationMs ?? 0)}`);
  if (o.rate !== null) {
    lines.push(`  Concurrency: ${o.concurrency} workers`);
    lines.push(`  Target rate: ${o.rate} req/s (total, open model)`);
    const expected = o.requests !== null ? (o.requests * 1000) / o.rate : (o.durationMs ?? 0);
    lines.push(`  Total expected duration: ~${Math.round(expected / 1000)}s`);
  } else {
    lines.push(`  Concurrency: ${o.concurrency} workers`);
    lines.push('  Target rate: none (closed model: each worker sends as soon as its last response arrives)');
    if (o.durationMs !== null) lines.push(`  Total expected duration: ~${Math.round(o.durationMs / 1000)}s`);
  }
  if (cli.warmupMs > 0) lines.push(`  Warm-up: ${formatSeconds(cli.warmupMs)} (not measured)`);
  if (cli.warmupRequests > 0) lines.push(`  Warm-up: ${cli.warmupRequests} requests (not measured)`);
  if (o.propagate) lines.push('  Trace context: W3C traceparent sent with every request');
  if (cli.verifyTraces) lines.push(`  Verify traces at: ${cli.verifyTraces}`);
  lines.push(RULE, '');
  return lines.join('\n') + '\n';
}

function ratePerS(p: Progress): number {
  return p.elapsedMs > 0 ? (p.completed * 1000) / p.elapsedMs : 0;
}

/** Fraction done: by requests, or by elapsed time for duration runs. */
function fraction(p: Progress): number {
  if (p.total !== null) return p.total === 0 ? 1 : Math.min(1, p.completed / p.total);
  return p.durationMs ? Math.min(1, p.elapsedMs / p.durationMs) : 0;
}

function counter(p: Progress): string {
  return p.total !== null ? `${p.completed}/${p.total}` : `${p.completed}`;
}

/** One frame of the live bar (TTY): bar, done/total, rate, elapsed, ETA. */
export function formatProgressBar(p: Progress): string {
  const f = fraction(p);
  const filled = Math.round(f * BAR_WIDTH);
  const bar = '#'.repeat(filled) + '.'.repeat(BAR_WIDTH - filled);
  const eta = f > 0 && f < 1 ? `  ETA ${formatSeconds((p.elapsedMs * (1 - f)) / f)}` : '';
  return `Progress: [${bar}] ${counter(p)}  ${ratePerS(p).toFixed(1)} req/s  elapsed ${formatSeconds(p.elapsedMs)}${eta}`;
}

/** A plain progress line for logs and pipes. */
export function formatProgressLine(p: Progress): string {
  const f = fraction(p);
  return `Progress: ${counter(p)} (${Math.round(f * 100)}%)  ${ratePerS(p).toFixed(1)} req/s  elapsed ${formatSeconds(p.elapsedMs)}  failed ${p.failed}`;
}

/** The final progress line, as the guide shows it. */
export function formatProgressDone(p: Progress): string {
  return `Progress: [${'#'.repeat(BAR_WIDTH)}] ${p.completed}/${p.total ?? p.completed}`;
}

function histogramLines(s: Summary): string[] {
  return s.buckets.map((b) => {
    const width = b.count === 0 ? 0 : Math.max(1, Math.round((b.percent * HIST_WIDTH) / 100));
    const pct = b.percent >= 1 || b.percent === 0 ? `${Math.round(b.percent)}%` : `${b.percent.toFixed(1)}%`;
    return `  ${`${b.label}:`.padEnd(12)}${'█'.repeat(width)} ${pct}`;
  });
}

/** The non-zero error classes as `timeout 3, 5xx 2`, or `none`; the terminal summary and the HTML report share it. */
export function errorsText(s: { errors: Summary['errors'] }): string {
  const e = s.errors;
  const parts = (
    [
      ['timeout', e.timeout],
      ['refused', e.refused],
      ['reset', e.reset],
      ['4xx', e['4xx']],
      ['5xx', e['5xx']],
      ['other status', e.otherStatus],
      ['other', e.other],
    ] as const
  )
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`);
  return parts.length === 0 ? 'none' : parts.join(', ');
}

/** Results, Latency Distribution, Histogram Buckets, then the trace audit, client and SLO blocks. */
export function formatResults(s: Summary): string {
  const l = s.latencyMs;
  const open = s.config.model === 'open';
  const lines = [
    'Results:',
    RULE,
    `${pad('Total requests:')}${s.requests.total}`,
    `${pad('Successful:')}${s.requests.successful}`,
    `${pad('Failed:')}${s.requests.failed}`,
    `${pad('Duration:')}${formatSeconds(s.durationMs)}`,
    `${pad('Actual rate:')}${s.rate.actual.toFixed(1)} req/s`,
  ];
  if (open && s.rate.send !== null) {
    lines.push(`${pad('Send rate:')}${s.rate.send.toFixed(1)} req/s (target ${s.rate.target}${s.rate.shortfall ? ', SHORT' : ', kept'})`);
    lines.push(`${pad('Late / dropped:')}${s.requests.late} / ${s.requests.dropped}`);
  }
  const codes = Object.entries(s.statusCodes)
    .map(([code, n]) => `${code}: ${n}`)
    .join(', ');
  lines.push(`${pad('Status codes:')}${codes === '' ? 'none' : codes}`);
  lines.push(`${pad('Errors:')}${errorsText(s)}`);
  if (s.targets.length > 1) lines.push(`${pad('Resent elsewhere:')}${s.requests.retried} (connection refused before anything was sent; not failures)`);
  lines.push('', 'Latency Distribution:', RULE);
  if (l.count === 0) lines.push('  (no successful request)');
  else {
    lines.push(
      `  ${pad('Min:', 18)}${formatMs(l.min)}`,
      `  ${pad('Max:', 18)}${formatMs(l.max)}`,
      `  ${pad('Mean:', 18)}${formatMs(l.mean)}`,
      `  ${pad('Median (p50):', 18)}${formatMs(l.p50)}`,
      `  ${pad('p90:', 18)}${formatMs(l.p90)}`,
      `  ${pad('p95:', 18)}${formatMs(l.p95)}`,
      `  ${pad('p99:', 18)}${formatMs(l.p99)}`,
      `  ${pad('p99.9:', 18)}${formatMs(l.p999)}`,
    );
    const st = s.serviceTimeMs;
    lines.push(
      open
        ? `  Latency counts from each request's scheduled start (no coordinated omission). Service time from the actual send: p50 ${formatMs(st.p50)}, p99 ${formatMs(st.p99)}, max ${formatMs(st.max)}.`
        : '  Closed model: latency counts from the actual send (a stall delays the next sends instead of showing here).',
    );
  }
  if (s.requests.failed > 0) {
    const f = s.failedLatencyMs;
    lines.push(`  Failed requests are not in these figures: ${s.requests.failed} failed after p50 ${formatMs(f.p50)}, max ${formatMs(f.max)}.`);
  }
  lines.push('', 'Histogram Buckets:', ...histogramLines(s), RULE);
  if (s.targets.length > 1) lines.push('', 'Targets:', RULE, ...targetLines(s), RULE);

  const t = s.traces;
  lines.push('', 'Trace Audit:', RULE);
  lines.push(`${pad('Trace ids:')}${t.recorded} recorded, ${t.unique} unique, ${t.duplicates} duplicates, ${t.missing} responses without one`);
  if (t.mismatched > 0) lines.push(`${pad('Not continued:')}${t.mismatched} responses ignored the propagated traceparent`);
  if (t.duplicateIds.length > 0) lines.push(`  duplicated: ${t.duplicateIds.join(', ')}`);
  if (t.delivery) {
    const d = t.delivery;
    if (d.error) lines.push(`${pad('Traces delivered:')}unknown (${d.error})`);
    else {
      lines.push(`Traces delivered: ${d.delivered}/${d.queried}`);
      if (d.missing.length > 0) {
        const more = d.missing.length > 5 ? ` (and ${d.missing.length - 5} more)` : '';
        lines.push(`  missing: ${d.missing.slice(0, 5).join(', ')}${more}`);
      }
    }
  }
  const c = s.client;
  // Without a single answer there is no load to judge the client by, so no verdict is printed.
  const verdict = s.requests.answered === 0 ? '' : c.saturated ? ' (SATURATED)' : ' (not saturated)';
  lines.push(`${pad('Load generator:')}CPU ${c.cpuPercent.toFixed(0)}% of one core, event-loop delay p99 ${formatMs(c.eventLoopDelayMs.p99)}${verdict}`);
  if (s.startLagMs) lines.push(`${pad('Start lag:')}p50 ${formatMs(s.startLagMs.p50)}, p99 ${formatMs(s.startLagMs.p99)}, max ${formatMs(s.startLagMs.max)} behind schedule`);
  if (s.slo.length > 0) {
    lines.push('', 'SLO:');
    for (const r of s.slo) lines.push(`  ${r.ok ? 'ok  ' : 'FAIL'} ${r.expr} (actual ${formatActual(r.actual, r.unit)})`);
  }
  if (s.warnings.length > 0) {
    lines.push('', 'Warnings:');
    for (const w of s.warnings) lines.push(`  ! ${w}`);
  }
  lines.push(RULE);
  return lines.join('\n') + '\n';
}

/** Per target: where the requests went and how they ended there. */
function targetLines(s: Summary): string[] {
  return s.targets.flatMap((t) => {
    const codes = Object.entries(t.statusCodes).map(([code, n]) => `${code}: ${n}`).join(', ');
    const latency = t.latencyMs.count === 0 ? 'no successful request' : `p50 ${formatMs(t.latencyMs.p50)}, p99 ${formatMs(t.latencyMs.p99)}`;
    return [
      `  ${t.url}`,
      `    requests ${t.requests}, successful ${t.successful}, failed ${t.failed}, refused and resent ${t.retried}; status ${codes === '' ? 'none' : codes}; errors ${errorsText(t)}; ${latency}`,
    ];
  });
}

export function formatActual(actual: number, unit: string): string {
  if (!Number.isFinite(actual)) return 'no data';
  if (unit === 'ms') return formatMs(actual);
  return `${Number.isInteger(actual) ? actual : actual.toFixed(2)}${unit}`;
}

/** One line per violated objective, naming it. */
export function formatViolations(s: Summary): string[] {
  return s.slo.filter((r) => !r.ok).map((r) => `SLO violated: ${r.expr} (actual ${formatActual(r.actual, r.unit)})`);
}

/** The line the CLI prints (and exits 3 on) when requests were sent and none was answered; null otherwise. */
export function formatUnanswered(s: Summary): string | null {
  if (s.requests.sent === 0 || s.requests.answered > 0) return null;
  if (s.targets.length > 1) return `no request to any of the ${s.targets.length} targets was answered (${errorsText(s)}): the services stopped listening or never answered.`;
  return `no request to ${new URL(s.config.target).origin} was answered (${errorsText(s)}): the service stopped listening or never answered.`;
}

export function formatJson(s: Summary): string {
  return JSON.stringify(s, null, 2) + '\n';
}
