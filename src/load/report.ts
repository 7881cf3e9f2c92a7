// The HTML report (--report FILE.html): one self-contained file that opens offline from file://. Text is rendered
// here, escaped; the charts are drawn in the browser by report-page.ts with uPlot, both inlined. A Content Security
// Policy allows only those scripts (by hash) and no network, so even a string that escaped escaping could not run.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Histogram } from 'hdr-histogram-js';
import type { CliOptions } from './args.ts';
import type { Summary } from './aggregate.ts';
import type { RunResult } from './engine.ts';
import { errorsText, formatActual, formatMs } from './print.ts';
import { drawCharts, type ChartSeries, type ChartSpec } from './report-page.ts';
import type { Second, Series } from './series.ts';

export interface ReportInput {
  summary: Summary;
  run: RunResult;
  cli: CliOptions;
  /** The arguments the CLI was given. */
  argv: readonly string[];
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML content and quoted attribute values. */
export function esc(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
}

/** JSON that is safe inside a <script> element: no `</script>`, no `<!--`, no line separators that end it. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** The arguments as a POSIX shell would need them typed: plain words bare, anything else single-quoted. */
export function commandLine(argv: readonly string[]): string {
  const quote = (a: string): string => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return ['npm run load --', ...argv.map(quote)].join(' ');
}

/**
 * The latency distribution as a percentile curve: x is 1 / (1 - q) for quantile q (1 at the median's left end,
 * 10 at p90, 100 at p99...), 20 points per decade up to the histogram's resolution, then the maximum one decade
 * later. Values in ms, never above the maximum.
 */
export function percentileCurve(h: Histogram): { x: number[]; ms: number[] } {
  const x: number[] = [];
  const ms: number[] = [];
  if (h.totalCount === 0) return { x, ms };
  const steps = 20;
  const limit = Math.max(10, h.totalCount);
  for (let k = 0; 10 ** (k / steps) <= limit; k++) {
    const xi = 10 ** (k / steps);
    x.push(xi);
    ms.push(Math.min(h.getValueAtPercentile(100 * (1 - 1 / xi)), h.maxValue) / 1000);
  }
  x.push(10 ** Math.ceil(Math.log10(limit) + 0.001)); // the maximum, placed one tick past the last quantile
  ms.push(h.maxValue / 1000);
  return { x, ms };
}

/** Per-second rate: count over the second's length; the run's last, partial second only when it lasted 250 ms. */
function rates(seconds: readonly Second[], durationMs: number, pick: (s: Second) => number): (number | null)[] {
  const end = durationMs / 1000;
  return seconds.map((s) => {
    const span = Math.min(1, end - s.t);
    return span >= 0.25 ? Math.round((pick(s) / span) * 100) / 100 : null;
  });
}

/** The charts' data, from the run's series and histograms. */
export function charts(summary: Summary, run: RunResult, series: Series): ChartSpec[] {
  const sec = series.seconds;
  const t = sec.map((s) => s.t);
  const throughput: ChartSeries[] = [
    { label: 'completed/s', values: rates(sec, summary.durationMs, (s) => s.completed) },
    { label: 'successful/s', values: rates(sec, summary.durationMs, (s) => s.successful) },
    { label: 'sent/s (achieved)', values: rates(sec, summary.durationMs, (s) => s.sent) },
  ];
  if (summary.rate.target !== null) throughput.push({ label: 'target rate', values: sec.map(() => summary.rate.target), dashed: true });
  const lat = (k: 'p50' | 'p90' | 'p99' | 'max'): ChartSeries => ({ label: k, values: sec.map((s) => s.latencyMs?.[k] ?? null) });

  const codes = [...new Set(sec.flatMap((s) => Object.keys(s.statusCodes)))].sort();
  const classes = [...new Set(sec.flatMap((s) => Object.keys(s.errors)))].sort();
  const outcomes: ChartSeries[] = [
    ...codes.map((c) => ({ label: `HTTP ${c}`, values: sec.map((s) => s.statusCodes[c] ?? 0) })),
    ...classes.map((c) => ({ label: c, values: sec.map((s) => s.errors[c] ?? 0) })),
  ];

  const latency = percentileCurve(run.latency);
  const distribution: ChartSeries[] = [{ label: 'latency (ms)', values: latency.ms }];
  if (summary.config.model === 'open') {
    // Same x as the latency curve: both histograms hold the same successful requests.
    const service = percentileCurve(run.serviceTime);
    distribution.push({ label: 'service time (ms)', values: latency.x.map((_, i) => service.ms[i] ?? null) });
  }
  return [
    { id: 'chart-throughput', x: t, series: throughput, yLabel: 'requests per second', xKind: 'seconds' },
    { id: 'chart-latency', x: t, series: [lat('p50'), lat('p90'), lat('p99'), lat('max')], yLabel: 'ms', xKind: 'seconds' },
    { id: 'chart-distribution', x: latency.x, series: distribution, yLabel: 'ms', xKind: 'percentile' },
    { id: 'chart-outcomes', x: t, series: outcomes, yLabel: 'responses per second', xKind: 'seconds' },
  ];
}

type Verdict = { kind: 'ok' | 'fail' | 'none'; title: string; detail: string };

/** The banner: objectives met or not; a run that got no answer fails whatever the objectives say. */
export function verdict(s: Summary): Verdict {
  const missed = s.slo.filter((r) => !r.ok);
  if (s.requests.sent > 0 && s.requests.answered === 0) {
    return { kind: 'fail', title: 'No request was answered', detail: 'These figures say nothing about the service.' };
  }
  if (s.slo.length === 0) return { kind: 'none', title: 'No objectives given', detail: 'Add --slo (for example "p99<200ms") to get a verdict.' };
  const n = s.slo.length;
  if (missed.length === 0) {
    return { kind: 'ok', title: n === 1 ? 'Objective met' : n === 2 ? 'Both objectives met' : `All ${n} objectives met`, detail: s.slo.map((r) => `${r.expr} (actual ${formatActual(r.actual, r.unit)})`).join(' · ') };
  }
  return {
    kind: 'fail',
    title: n === 1 ? 'Objective missed' : `${missed.length} of ${n} objectives missed`,
    detail: missed.map((r) => `${r.expr} (actual ${formatActual(r.actual, r.unit)})`).join(' · '),
  };
}

const rows = (pairs: readonly (readonly [string, unknown])[]): string =>
  pairs.map(([k, v]) => `<tr><th scope="row">${esc(k)}</th><td>${esc(v)}</td></tr>`).join('\n');

function settings(s: Summary, cli: CliOptions): [string, unknown][] {
  const c = s.config;
  return [
    ['Target', c.target],
    ['Method', c.method],
    ['Model', c.model === 'open' ? `open (target rate ${c.targetRate} req/s)` : 'closed (workers back to back)'],
    ['Concurrency', c.concurrency],
    ['End', c.requests !== null ? `${c.requests} requests` : `after ${(c.durationMs ?? 0) / 1000}s`],
    ['Timeout', `${c.timeoutMs / 1000}s`],
    ['Warm-up', c.warmupRequests > 0 ? `${c.warmupRequests} requests` : c.warmupMs > 0 ? `${c.warmupMs / 1000}s` : 'none'],
    ['Trace context', c.propagate ? 'W3C traceparent sent with every request' : 'not sent'],
    ['Verify traces at', cli.verifyTraces ?? 'not asked'],
    ['Histogram buckets (ms)', c.buckets.join(', ')],
    ['Objectives', cli.slos.map((o) => o.expr).join(', ') || 'none'],
    ['Started at', s.startedAt],
  ];
}

function auditRows(s: Summary): [string, unknown][] {
  const t = s.traces;
  const out: [string, unknown][] = [
    ['Trace ids', `${t.recorded} recorded, ${t.unique} unique, ${t.duplicates} duplicates, ${t.missing} responses without one`],
  ];
  if (t.mismatched > 0) out.push(['Not continued', `${t.mismatched} responses ignored the propagated traceparent`]);
  if (t.duplicateIds.length > 0) out.push(['Duplicated ids', t.duplicateIds.join(', ')]);
  const d = t.delivery;
  if (d === null) out.push(['Traces delivered', 'not checked (pass --verify-traces)']);
  else if (d.error !== null) out.push(['Traces delivered', `unknown (${d.error})`]);
  else {
    out.push(['Traces delivered', `${d.delivered}/${d.queried}`]);
    if (d.missing.length > 0) out.push(['Missing ids', d.missing.slice(0, 20).join(', ') + (d.missing.length > 20 ? ` (and ${d.missing.length - 20} more)` : '')]);
  }
  return out;
}

function auditState(s: Summary): 'ok' | 'fail' | 'none' {
  const t = s.traces;
  const d = t.delivery;
  if (t.duplicates > 0 || t.missing > 0 || t.mismatched > 0) return 'fail';
  if (d === null) return 'none';
  return d.error === null && d.delivered === d.queried ? 'ok' : 'fail';
}

function figure(label: string, value: string, note = '', state: 'ok' | 'fail' | 'none' = 'none'): string {
  return `<div class="figure ${state}"><dt>${esc(label)}</dt><dd>${esc(value)}${note === '' ? '' : `<small>${esc(note)}</small>`}</dd></div>`;
}

function chartSection(id: string, title: string, what: string, body = ''): string {
  return `<section id="${id}" aria-labelledby="${id}-h">
<h2 id="${id}-h">${esc(title)}</h2>
<p class="what">${esc(what)}</p>
<div class="chart" id="chart-${id}" tabindex="0" role="group" aria-label="${esc(`${title} chart: arrow keys, Home and End move through the points`)}"></div>
${body}
</section>`;
}

function perSecondTable(series: Series): string {
  const head = '<tr><th scope="col">second</th><th scope="col">sent</th><th scope="col">completed</th><th scope="col">successful</th><th scope="col">failed</th><th scope="col">p50 ms</th><th scope="col">p99 ms</th><th scope="col">statuses and errors</th></tr>';
  const body = series.seconds
    .map((s) => {
      const outcomes = [...Object.entries(s.statusCodes).map(([c, n]) => `${c}: ${n}`), ...Object.entries(s.errors).map(([c, n]) => `${c}: ${n}`)].join(', ');
      const cells = [s.t, s.sent, s.completed, s.successful, s.failed, s.latencyMs?.p50 ?? '—', s.latencyMs?.p99 ?? '—', outcomes || '—'];
      return `<tr>${cells.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`;
    })
    .join('\n');
  return `<details><summary>Every second as a table</summary><div class="scroll"><table class="data">${head}\n${body}</table></div></details>`;
}

function messagesTable(series: Series): string {
  if (series.errorMessages.length === 0) return '<p>No request failed.</p>';
  const body = series.errorMessages
    .map((m) => `<tr><td class="msg">${esc(m.message)}</td><td>${esc(m.count)}</td><td>${esc(`${m.firstS}s – ${m.lastS}s`)}</td></tr>`)
    .join('\n');
  const more = series.otherMessages > 0 ? `<p>${esc(series.otherMessages)} more failures had other messages (only the first ${series.errorMessages.length} distinct ones are kept).</p>` : '';
  return `<table class="data" id="error-messages"><caption>What the failures said</caption><tr><th scope="col">message</th><th scope="col">count</th><th scope="col">seen</th></tr>\n${body}</table>${more}`;
}

let assets: { js: string; css: string } | null = null;
function uplotAssets(): { js: string; css: string } {
  if (assets === null) {
    const require = createRequire(import.meta.url);
    assets = {
      js: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
      css: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
    };
  }
  return assets;
}

const sha256 = (s: string): string => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`;

/** The whole report as one HTML document. */
export function renderReport({ summary: s, run, cli, argv }: ReportInput): string {
  const series: Series = run.series ?? { seconds: [], errorMessages: [], otherMessages: 0 };
  const v = verdict(s);
  const l = s.latencyMs;
  const { js, css } = uplotAssets();
  const page = `(${drawCharts.toString()})(${scriptJson(charts(s, run, series))}, window.uPlot);`;
  const csp = `default-src 'none'; script-src ${sha256(js)} ${sha256(page)}; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'`;
  const audit = auditState(s);
  const codes = Object.entries(s.statusCodes).map(([c, n]) => `${c}: ${n}`).join(', ') || 'none';
  const errorText = errorsText(s);
  const delivery = s.traces.delivery;
  const delivered = delivery === null ? 'not checked' : delivery.error !== null ? 'unknown' : `${delivery.delivered}/${delivery.queried}`;

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${esc(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(`Load report: ${v.title} · ${s.config.target}`)}</title>
<style>${css}</style>
<style>${STYLE}</style>
</head>
<body>
<a class="skip" href="#main">Skip to the report</a>
<header>
<h1>Load test report</h1>
<p class="sub"><span class="target">${esc(s.config.target)}</span> · started ${esc(s.startedAt)} · ${esc(`${(s.durationMs / 1000).toFixed(1)}s`)}${s.interrupted ? ' · <strong>interrupted</strong>' : ''}</p>
</header>
<main id="main">
<section id="verdict" class="verdict ${v.kind}" role="status" aria-labelledby="verdict-h">
<h2 id="verdict-h"><span class="mark" aria-hidden="true">${v.kind === 'ok' ? '✔' : v.kind === 'fail' ? '✘' : '•'}</span> ${esc(v.title)}</h2>
<p>${esc(v.detail)}</p>
${s.warnings.length > 0 ? `<p><a href="#warnings">${esc(`${s.warnings.length} warning${s.warnings.length > 1 ? 's' : ''}`)}</a> below.</p>` : ''}
</section>
<dl class="figures">
${figure('Requests', String(s.requests.total))}
${figure('Successful', String(s.requests.successful))}
${figure('Failed', String(s.requests.failed), '', s.requests.failed > 0 ? 'fail' : 'none')}
${figure('Actual rate', `${s.rate.actual.toFixed(1)} req/s`, s.rate.target === null ? 'closed model' : `target ${s.rate.target}`)}
${figure('p50', l.count === 0 ? 'n/a' : formatMs(l.p50))}
${figure('p99', l.count === 0 ? 'n/a' : formatMs(l.p99))}
${figure('Traces delivered', delivered, '', delivery === null ? 'none' : audit)}
</dl>
<nav aria-label="Sections"><ul>
<li><a href="#throughput">Throughput</a></li><li><a href="#latency">Latency over time</a></li><li><a href="#distribution">Latency distribution</a></li><li><a href="#outcomes">Status codes and errors</a></li><li><a href="#audit">Trace audit</a></li><li><a href="#objectives">Objectives</a></li><li><a href="#warnings">Warnings</a></li><li><a href="#settings">Settings</a></li>
</ul></nav>
${chartSection('throughput', 'Throughput', 'Requests completed, successful and sent in each second of the run; in the open model, the target rate beside what was achieved.', perSecondTable(series))}
${chartSection('latency', 'Latency over time', `Percentiles of the successful requests completed in each second, in ms, ${s.config.model === 'open' ? 'from each request’s scheduled start' : 'from the send'}.`)}
${chartSection('distribution', 'Latency distribution', `Every percentile of the successful requests, from the HDR histogram, on a log scale so the tail is as wide as the median (${l.count} requests).${s.config.model === 'open' ? ' Service time counts from the actual send; where the two part, requests waited for a free slot.' : ''}`)}
${chartSection('outcomes', 'Status codes and errors', `HTTP statuses and transport failures in each second. Totals: status codes ${codes}; errors ${errorText}.`, messagesTable(series))}
<section id="audit" class="audit ${audit}" aria-labelledby="audit-h">
<h2 id="audit-h">Trace audit</h2>
<table class="kv">${rows(auditRows(s))}</table>
</section>
<section id="objectives" aria-labelledby="objectives-h">
<h2 id="objectives-h">Objectives</h2>
${
  s.slo.length === 0
    ? '<p>None given (--slo).</p>'
    : `<table class="data"><tr><th scope="col">objective</th><th scope="col">result</th><th scope="col">actual</th></tr>${s.slo
        .map((r) => `<tr class="${r.ok ? 'ok' : 'fail'}"><td>${esc(r.expr)}</td><td>${r.ok ? 'met' : 'MISSED'}</td><td>${esc(formatActual(r.actual, r.unit))}</td></tr>`)
        .join('\n')}</table>`
}
</section>
<section id="warnings" aria-labelledby="warnings-h">
<h2 id="warnings-h">Warnings</h2>
${s.warnings.length === 0 ? '<p>None.</p>' : `<ul>${s.warnings.map((w) => `<li>${esc(w)}</li>`).join('\n')}</ul>`}
</section>
<section id="settings" aria-labelledby="settings-h">
<h2 id="settings-h">Settings</h2>
<table class="kv">${rows(settings(s, cli))}</table>
<h3>Command line</h3>
<pre id="command"><code>${esc(commandLine(argv))}</code></pre>
<p class="what">The JSON summary of the same run: add <code>--json</code> or <code>--out FILE</code>.</p>
</section>
</main>
<script>${js}</script>
<script>${page}</script>
</body>
</html>
`;
}

const STYLE = `
:root { color-scheme: light; --ok: #0b6b2f; --ok-bg: #e3f4e8; --fail: #a61b1b; --fail-bg: #fbe4e4; --none: #444; --none-bg: #eef0f3; --line: #d0d4da; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1d21; background: #fff; }
header, main { max-width: 1100px; margin: 0 auto; padding: 0 20px; }
h1 { font-size: 1.5rem; margin: 20px 0 2px; }
h2 { font-size: 1.2rem; margin: 0 0 6px; }
h3 { font-size: 1rem; margin: 16px 0 6px; }
.sub { margin: 0 0 14px; color: #4a4f57; overflow-wrap: anywhere; }
.skip { position: absolute; left: -9999px; }
.skip:focus { left: 8px; top: 8px; background: #fff; padding: 6px 10px; border: 2px solid #0072b2; }
a { color: #005a8c; }
:focus-visible { outline: 3px solid #0072b2; outline-offset: 2px; }
.verdict { border-radius: 8px; padding: 14px 18px; margin: 0 0 14px; border-left: 8px solid; }
.verdict h2 { font-size: 1.45rem; margin: 0 0 4px; }
.verdict p { margin: 2px 0; }
.verdict.ok { background: var(--ok-bg); border-color: var(--ok); } .verdict.ok h2 { color: var(--ok); }
.verdict.fail { background: var(--fail-bg); border-color: var(--fail); } .verdict.fail h2 { color: var(--fail); }
.verdict.none { background: var(--none-bg); border-color: var(--none); }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(130px, 1fr)); gap: 10px; margin: 0 0 14px; }
.figure { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; }
.figure dt { font-size: .8rem; color: #4a4f57; } .figure dd { margin: 0; font-size: 1.2rem; font-weight: 600; }
.figure.fail { border-color: var(--fail); } .figure.fail dd { color: var(--fail); }
.figure.ok dd { color: var(--ok); }
.figure small { display: block; font-size: .8rem; font-weight: 400; color: #4a4f57; }
nav ul { list-style: none; padding: 0; margin: 0 0 10px; display: flex; flex-wrap: wrap; gap: 6px 16px; }
section { border-top: 1px solid var(--line); padding: 14px 0; }
section.verdict { border-top: 0; }
.what { margin: 0 0 8px; color: #4a4f57; }
.chart { min-height: 300px; border-radius: 4px; }
.chart .empty { margin: 0; font-weight: 600; color: #4a4f57; }
table { border-collapse: collapse; }
.kv th { text-align: left; font-weight: 600; padding: 3px 16px 3px 0; vertical-align: top; white-space: nowrap; }
.kv td, .data td { padding: 3px 12px 3px 0; overflow-wrap: anywhere; }
.data th { text-align: left; padding: 3px 12px 3px 0; border-bottom: 1px solid var(--line); }
.data caption { text-align: left; font-weight: 600; padding: 10px 0 4px; }
.data td.msg { font-family: ui-monospace, monospace; font-size: .9rem; }
tr.fail td { color: var(--fail); font-weight: 600; } tr.ok td:nth-child(2) { color: var(--ok); font-weight: 600; }
.audit.ok h2::after { content: " ✔ complete"; color: var(--ok); font-size: .95rem; }
.audit.fail h2::after { content: " ✘ incomplete"; color: var(--fail); font-size: .95rem; }
details { margin-top: 8px; } .scroll { max-height: 320px; overflow: auto; }
pre { background: #f4f5f7; padding: 10px 12px; border-radius: 6px; white-space: pre-wrap; overflow-wrap: anywhere; }
.u-legend { font-size: .85rem; }
@media print { nav, .skip { display: none; } .chart { break-inside: avoid; } }
`;
