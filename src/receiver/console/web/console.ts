// The console in the browser: three pages (traces, metrics, logs) and a trace's waterfall, drawn from the JSON API
// with DOM calls only. Received text goes into textContent and attribute values, never into markup.
import type uPlotType from 'uplot';

declare const uPlot: typeof uPlotType;

type Attrs = Record<string, unknown>;
interface TraceSummary { traceId: string; rootName: string; service: string; startTimeMs: number; durationMs: number; spanCount: number; errorCount: number; httpStatus: number | string | null }
interface Link { traceId: string; spanId: string; attributes: Attrs; stored: boolean }
interface Span {
  spanId: string; parentSpanId: string; name: string; kind: number; service: string; scope: string; startOffsetMs: number; durationMs: number;
  status: { code: number; message: string }; attributes: Attrs; events: { name: string; attributes: Attrs }[]; links: Link[]; resource: Attrs;
}
interface LogRecord { timeMs: number; severityNumber: number; severityText: string; body: string; traceId: string; spanId: string; service: string; attributes: Attrs }
interface Trace extends TraceSummary { spans: Span[]; linkedFrom: { traceId: string; spanId: string; name: string; toSpanId: string }[]; logs: LogRecord[] }
interface MetricSummary { name: string; type: string; unit: string; description: string; series: number }
interface Chart { kind: 'rate' | 'value' | 'quantiles'; t: number[]; lines: { label: string; values: (number | null)[] }[] }
interface MetricDetail { name: string; type: string; unit: string; description: string; series: { id: number; attributes: Attrs }[]; chart: Chart; buckets?: { bounds: number[]; counts: number[] } }

const POLL_MS = 2000;
const GUIDE_METRICS = ['http_requests_total', 'prediction_latency_ms'];
const SPAN_KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
const main = document.getElementById('main')!;
let timer: number | undefined;
let charts: uPlotType[] = [];

type Child = Node | string | number | null | undefined | false;
/** An element with properties and children; strings become text nodes. */
function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<Record<string, string | boolean | ((e: Event) => void)>> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (v === true) el.setAttribute(k, '');
    else if (typeof v === 'string') el.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(typeof c === 'number' ? String(c) : c);
  return el;
}

async function api<T>(path: string): Promise<T | undefined> {
  const res = await fetch(path, { headers: { accept: 'application/json' } });
  return res.ok ? ((await res.json()) as T) : undefined;
}

const valueText = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));
const fmtMs = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x < 10 ? x.toFixed(2) : x.toFixed(1)} ms`);
const fmtTime = (ms: number) => new Date(ms).toLocaleTimeString(undefined, { hour12: false }) + '.' + String(Math.floor(ms % 1000)).padStart(3, '0');
const traceLink = (id: string, text = id) => h('a', { href: `#/traces/${id}`, class: 'mono' }, text);

function attrTable(attrs: Attrs, caption?: string): HTMLElement | null {
  const keys = Object.keys(attrs).sort();
  if (keys.length === 0) return null;
  return h('table', {}, caption ? h('caption', { class: 'muted' }, caption) : null, h('tbody', {}, ...keys.map((k) => h('tr', {}, h('td', { class: 'mono' }, k), h('td', { class: 'mono' }, valueText(attrs[k]))))));
}

function repeat(fn: () => Promise<void>): void {
  const tick = async () => {
    try {
      await fn();
    } finally {
      timer = window.setTimeout(tick, POLL_MS);
    }
  };
  void tick();
}

/**
 * Replaces a live region's content when the data changed, keeping keyboard focus on the same link (by its href)
 * so a poll never pulls focus out from under someone tabbing through the list.
 */
function render(container: HTMLElement, key: string, build: () => Node): void {
  if (container.dataset.key === key) return;
  container.dataset.key = key;
  const focused = container.contains(document.activeElement) ? (document.activeElement as HTMLElement).getAttribute('href') : null;
  container.replaceChildren(build());
  if (focused !== null) container.querySelector<HTMLElement>(`[href="${CSS.escape(focused)}"]`)?.focus();
}

function fragment(nodes: Node[]): DocumentFragment {
  const f = document.createDocumentFragment();
  f.append(...nodes);
  return f;
}

function readForm(form: HTMLFormElement): URLSearchParams {
  const params = new URLSearchParams();
  for (const [k, v] of new FormData(form)) if (String(v).trim() !== '') params.set(k, String(v).trim());
  return params;
}

// ---- traces --------------------------------------------------------------------------------------------------

function tracesPage(params: URLSearchParams): void {
  const form = h('form', { class: 'filters', role: 'search' },
    h('label', {}, 'Span name or route', h('input', { name: 'name', value: params.get('name') ?? '', placeholder: '/predict' })),
    h('label', {}, 'Min duration (ms)', h('input', { name: 'minDurationMs', type: 'number', min: '0', step: 'any', value: params.get('minDurationMs') ?? '' })),
    h('label', {}, 'Trace id', h('input', { name: 'traceId', value: params.get('traceId') ?? '', class: 'mono', size: '34' })),
    h('label', { class: 'check' }, h('input', { name: 'errors', type: 'checkbox', value: 'true', ...(params.get('errors') === 'true' ? { checked: true } : {}) }), 'Errors only'),
    h('button', { type: 'submit' }, 'Filter'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = `#/traces?${readForm(form)}`;
  });
  const list = h('div', { 'aria-live': 'polite' });
  main.replaceChildren(h('h2', {}, 'Traces'), form, list);
  repeat(async () => {
    const data = await api<{ traces: TraceSummary[] }>(`/api/traces?${params}`);
    if (!data) return;
    if (data.traces.length === 0) return render(list, 'empty', () => h('p', { class: 'empty' }, 'No trace matches yet. Make a prediction (POST /predict) and it appears here within seconds.'));
    render(list, JSON.stringify(data.traces), () => h('table', { id: 'trace-list' },
      h('thead', {}, h('tr', {}, h('th', { class: 'num' }, 'Started'), h('th', {}, 'Root span'), h('th', {}, 'Service'), h('th', { class: 'num' }, 'HTTP'), h('th', { class: 'num' }, 'Duration'), h('th', { class: 'num' }, 'Spans'), h('th', { class: 'num' }, 'Errors'), h('th', {}, 'Trace id'))),
      h('tbody', {}, ...data.traces.map((t) => h('tr', { 'data-trace-id': t.traceId },
        h('td', { class: 'num' }, fmtTime(t.startTimeMs)),
        h('td', {}, traceLink(t.traceId, t.rootName || '(unnamed)')),
        h('td', {}, t.service),
        h('td', { class: Number(t.httpStatus) >= 500 ? 'num err' : 'num' }, t.httpStatus === null ? '' : String(t.httpStatus)),
        h('td', { class: 'num' }, fmtMs(t.durationMs)),
        h('td', { class: 'num' }, t.spanCount),
        h('td', { class: t.errorCount > 0 ? 'num err' : 'num' }, t.errorCount),
        h('td', {}, traceLink(t.traceId)))))));
  });
}

async function tracePage(id: string): Promise<void> {
  const trace = await api<Trace>(`/api/traces/${encodeURIComponent(id)}`);
  if (!trace) {
    main.replaceChildren(h('h2', {}, 'Trace ', h('code', {}, id)),
      h('p', { class: 'empty' }, 'This trace is not stored: not received yet (spans arrive within a second or two), or evicted. ', h('button', { type: 'button', onclick: () => void tracePage(id) }, 'Try again')),
      h('a', { href: '#/traces' }, 'Back to traces'));
    return;
  }
  const depth = new Map<string, number>();
  const byId = new Map(trace.spans.map((s) => [s.spanId, s]));
  const depthOf = (s: Span): number => {
    if (depth.has(s.spanId)) return depth.get(s.spanId)!;
    const parent = byId.get(s.parentSpanId);
    const d = parent && parent !== s ? depthOf(parent) + 1 : 0;
    depth.set(s.spanId, d);
    return d;
  };
  // Children right below their parent, siblings by start time.
  const ordered: Span[] = [];
  const visit = (s: Span) => {
    ordered.push(s);
    for (const c of trace.spans.filter((x) => x.parentSpanId === s.spanId && x !== s)) visit(c);
  };
  for (const root of trace.spans.filter((s) => !byId.has(s.parentSpanId))) visit(root);
  const total = Math.max(trace.durationMs, 1e-6);
  const rows = ordered.map((s) => {
    const detail = spanDetail(s);
    detail.hidden = true;
    const row = h('button', { type: 'button', class: 'span-row', 'aria-expanded': 'false', 'data-span-id': s.spanId },
      h('span', { class: 'span-name', style: `padding-left:${depthOf(s) * 1.1}rem` }, s.status.code === 2 ? h('span', { class: 'err' }, '! ') : null, s.name, h('span', { class: 'muted' }, ` ${s.service}`)),
      h('span', { class: 'track', 'aria-hidden': 'true' }, h('span', { class: s.status.code === 2 ? 'bar error' : 'bar', style: `left:${(s.startOffsetMs / total) * 100}%;width:${(s.durationMs / total) * 100}%` })),
      h('span', { class: 'num' }, fmtMs(s.durationMs)));
    row.addEventListener('click', () => {
      detail.hidden = !detail.hidden;
      row.setAttribute('aria-expanded', String(!detail.hidden));
    });
    return [row, detail];
  });
  const linkedFrom = trace.linkedFrom.length === 0 ? null : h('section', {}, h('h3', {}, 'Linked from'), h('ul', {}, ...trace.linkedFrom.map((l) => h('li', {}, `${l.name} in trace `, traceLink(l.traceId), ` links to span `, h('code', {}, l.toSpanId)))));
  main.replaceChildren(...[
    h('p', {}, h('a', { href: '#/traces' }, '← All traces')),
    h('h2', {}, trace.rootName, ' ', h('span', { class: 'muted' }, `${fmtMs(trace.durationMs)} · ${trace.spanCount} spans`)),
    h('p', { class: 'muted' }, 'Trace ', h('code', { id: 'trace-id' }, trace.traceId), ` · started ${new Date(trace.startTimeMs).toLocaleString()} · `, h('button', { type: 'button', onclick: () => void tracePage(id) }, 'Refresh')),
    linkedFrom,
    h('div', { class: 'waterfall', id: 'waterfall' }, ...rows.flat()),
    h('h3', {}, `Logs of this trace (${trace.logs.length})`),
    logTable(trace.logs, false)].filter((x) => x !== null));
  const first = main.querySelector<HTMLElement>('.span-row');
  first?.click();
}

function spanDetail(s: Span): HTMLElement {
  const status = ['Unset', 'Ok', 'Error'][s.status.code] ?? String(s.status.code);
  return h('div', { class: 'span-detail' },
    h('p', {}, h('strong', {}, s.name), ` · ${SPAN_KINDS[s.kind] ?? s.kind} · `, h('span', { class: s.status.code === 2 ? 'err' : '' }, `status ${status}${s.status.message ? `: ${s.status.message}` : ''}`),
      ` · starts at +${fmtMs(s.startOffsetMs)} · span `, h('code', {}, s.spanId), ` · scope ${s.scope}`),
    attrTable(s.attributes, 'Attributes'),
    s.events.length === 0 ? null : h('div', {}, h('h4', {}, 'Events'), ...s.events.map((e) => h('div', {}, h('p', {}, h('strong', {}, e.name)), attrTable(e.attributes)))),
    s.links.length === 0 ? null : h('div', {}, h('h4', {}, 'Links'), h('ul', {}, ...s.links.map((l) => h('li', {}, 'trace ', l.stored ? traceLink(l.traceId) : h('code', {}, `${l.traceId} (not stored)`), ' span ', h('code', {}, l.spanId), attrTable(l.attributes))))),
    h('details', {}, h('summary', {}, 'Resource'), attrTable(s.resource)));
}

// ---- logs ----------------------------------------------------------------------------------------------------

const SEVERITIES: [string, string][] = [['', 'any'], ['5', 'debug and up'], ['9', 'info and up'], ['13', 'warn and up'], ['17', 'error and up']];

function logTable(logs: LogRecord[], withTrace: boolean): HTMLElement {
  if (logs.length === 0) return h('p', { class: 'empty' }, 'No log records.');
  const sev = (l: LogRecord) => (l.severityText || String(l.severityNumber)).toLowerCase();
  return h('table', { class: 'logs' },
    h('thead', {}, h('tr', {}, h('th', { class: 'num' }, 'Time'), h('th', {}, 'Severity'), h('th', {}, 'Message'), withTrace ? h('th', {}, 'Trace') : null)),
    h('tbody', {}, ...logs.map((l) => h('tr', {},
      h('td', { class: 'num' }, fmtTime(l.timeMs)),
      h('td', { class: `sev-${sev(l)}` }, sev(l)),
      h('td', {}, h('span', {}, l.body), h('details', {}, h('summary', { class: 'muted' }, 'attributes'), attrTable(l.attributes))),
      withTrace ? h('td', {}, l.traceId ? traceLink(l.traceId, l.traceId.slice(0, 12) + '…') : '') : null))));
}

function logsPage(params: URLSearchParams): void {
  const severity = h('select', { name: 'minSeverity' }, ...SEVERITIES.map(([v, label]) => h('option', { value: v, ...(params.get('minSeverity') === v ? { selected: true } : {}) }, label)));
  const form = h('form', { class: 'filters', role: 'search' },
    h('label', {}, 'Text', h('input', { name: 'q', value: params.get('q') ?? '', placeholder: 'Prediction completed' })),
    h('label', {}, 'Severity', severity),
    h('label', {}, 'Trace id', h('input', { name: 'traceId', value: params.get('traceId') ?? '', class: 'mono', size: '34' })),
    h('button', { type: 'submit' }, 'Search'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = `#/logs?${readForm(form)}`;
  });
  const list = h('div', {});
  main.replaceChildren(h('h2', {}, 'Logs'), form, list);
  repeat(async () => {
    const data = await api<{ logs: LogRecord[] }>(`/api/logs?${params}`);
    if (data) render(list, JSON.stringify(data.logs), () => logTable(data.logs, true));
  });
}

// ---- metrics -------------------------------------------------------------------------------------------------

/** Axis and grid colours from the page's own (light or dark) scheme: uPlot draws on canvas, outside CSS. */
function axis(extra: Partial<uPlotType.Axis> = {}): uPlotType.Axis {
  const style = getComputedStyle(document.body);
  return { stroke: style.color, grid: { stroke: style.getPropertyValue('--line').trim() || '#ddd' }, ticks: { stroke: style.getPropertyValue('--line').trim() || '#ddd' }, ...extra };
}

const PALETTE = ['#2457c5', '#e0702b', '#2a9d5b', '#b53f9a', '#7a6a00', '#17a2b8', '#c0262d', '#6c757d'];

function chartCard(name: string): HTMLElement {
  const select = h('select', { 'aria-label': `Series of ${name}` }, h('option', { value: '' }, 'all series'));
  const plot = h('div', { class: 'chart' });
  const buckets = h('div', { class: 'chart buckets' });
  const desc = h('p', {});
  const card = h('section', { class: 'card', 'data-metric': name }, h('header', {}, h('h3', {}, name), select), desc, plot, buckets);
  let line: uPlotType | undefined;
  let bars: uPlotType | undefined;
  let shape = '';
  const width = () => Math.max(300, plot.clientWidth || 520);
  const draw = async () => {
    const m = await api<MetricDetail>(`/api/metrics/${encodeURIComponent(name)}${select.value ? `?series=${select.value}` : ''}`);
    if (!m) return;
    if (select.options.length !== m.series.length + 1) {
      const keep = select.value;
      select.replaceChildren(h('option', { value: '' }, 'all series'), ...m.series.map((s) => h('option', { value: String(s.id) }, Object.entries(s.attributes).map(([k, v]) => `${k}=${valueText(v)}`).join(', ') || '(no attributes)')));
      select.value = keep;
    }
    const what = m.chart.kind === 'rate' ? 'rate per second' : m.chart.kind === 'quantiles' ? `p50 / p95 / p99${m.unit ? ` (${m.unit})` : ''} per export interval` : `value${m.unit ? ` (${m.unit})` : ''}`;
    desc.textContent = `${m.type} · ${what} · ${m.series.length} series${m.description ? ` · ${m.description}` : ''}`;
    const data = [m.chart.t, ...m.chart.lines.map((l) => l.values)] as uPlotType.AlignedData;
    const newShape = m.chart.lines.map((l) => l.label).join('|');
    if (line === undefined || newShape !== shape) {
      line?.destroy();
      shape = newShape;
      line = new uPlot({ width: width(), height: 220, series: [{}, ...m.chart.lines.map((l, i) => ({ label: l.label, stroke: PALETTE[i % PALETTE.length], width: 2, spanGaps: false }))], axes: [axis(), axis({ size: 60 })] }, data, plot);
      charts.push(line);
    } else line.setData(data);
    // How many values are drawn: tests and people can tell "no data yet" from "drawn".
    card.dataset.points = String(m.chart.lines.reduce((n, l) => n + l.values.filter((v) => v !== null).length, 0));
    if (m.buckets && m.buckets.counts.length > 0) {
      const labels = m.buckets.counts.map((_, i) => (i < m.buckets!.bounds.length ? `≤${m.buckets!.bounds[i]}` : `>${m.buckets!.bounds.at(-1)}`));
      const bucketData = [m.buckets.counts.map((_, i) => i), m.buckets.counts] as uPlotType.AlignedData;
      if (bars === undefined) {
        bars = new uPlot({
          width: width(), height: 180, title: 'Observations per bucket (stored window)',
          scales: { x: { time: false, range: (_u, min, max) => [min - 0.5, max + 0.5] } },
          axes: [axis({ values: (_u: uPlotType, ticks: number[]) => ticks.map((t) => labels[t] ?? ''), rotate: -45, size: 50 }), axis({ size: 60 })],
          series: [{}, { label: 'count', fill: PALETTE[0] + '99', stroke: PALETTE[0], paths: uPlot.paths.bars!({ size: [0.8] }), points: { show: false } }],
        }, bucketData, buckets);
        charts.push(bars);
      } else bars.setData(bucketData);
    }
  };
  select.addEventListener('change', () => {
    line?.destroy();
    line = undefined;
    void draw();
  });
  (card as HTMLElement & { draw: () => Promise<void> }).draw = draw;
  return card;
}

function metricsPage(selected: string | undefined): void {
  const cards = h('div', { class: 'cards' });
  const list = h('ul', { class: 'metric-list', 'aria-label': 'Every metric received' });
  const shown = new Map<string, HTMLElement & { draw?: () => Promise<void> }>();
  main.replaceChildren(h('h2', {}, 'Metrics'), cards, h('h3', {}, 'Every metric received'), h('p', { class: 'muted' }, 'Choose one to chart it above.'), list);
  const wanted = [...GUIDE_METRICS, ...(selected && !GUIDE_METRICS.includes(selected) ? [selected] : [])];
  repeat(async () => {
    const data = await api<{ metrics: MetricSummary[] }>('/api/metrics');
    if (!data) return;
    const names = new Set(data.metrics.map((m) => m.name));
    render(list, JSON.stringify(data.metrics), () => fragment(data.metrics.map((m) => h('li', {}, h('a', { href: `#/metrics/${encodeURIComponent(m.name)}`, ...(m.name === selected ? { 'aria-current': 'true' } : {}) }, m.name), h('span', { class: 'muted' }, ` ${m.type.toLowerCase()}`)))));
    for (const name of wanted) {
      if (!shown.has(name) && names.has(name)) {
        const card = chartCard(name);
        shown.set(name, card);
        cards.append(card);
      }
    }
    if (shown.size === 0) cards.replaceChildren(h('p', { class: 'empty' }, 'No metrics yet: the service exports every 5 s.'));
    else cards.querySelector('.empty')?.remove();
    await Promise.all([...shown.values()].map((c) => c.draw?.()));
  });
  if (selected) setTimeout(() => shown.get(selected)?.scrollIntoView(), POLL_MS / 2);
}

// ---- routing -------------------------------------------------------------------------------------------------

async function stats(): Promise<void> {
  const s = await api<{ stored: Record<string, number>; evicted: Record<string, number> }>('/api/stats');
  if (!s) return;
  const ev = s.evicted;
  document.getElementById('stats')!.textContent =
    `Stored: ${s.stored.traces} traces, ${s.stored.logs} logs, ${s.stored.series} series · evicted: ${ev.traces} traces, ${ev.spans} spans, ${ev.logs} logs, ${ev.series} series, ${ev.points} points`;
}

function route(): void {
  window.clearTimeout(timer);
  for (const c of charts) c.destroy();
  charts = [];
  const [path = '', query = ''] = location.hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(query);
  const parts = path.split('/').filter(Boolean);
  const page = parts[0] ?? 'traces';
  for (const a of document.querySelectorAll('nav a')) {
    if (a.getAttribute('data-page') === page) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${page[0]!.toUpperCase()}${page.slice(1)} · Telemetry console`;
  if (page === 'traces' && parts[1]) void tracePage(parts[1]);
  else if (page === 'metrics') metricsPage(parts[1] ? decodeURIComponent(parts[1]) : undefined);
  else if (page === 'logs') logsPage(params);
  else tracesPage(params);
}

window.addEventListener('hashchange', route);
setInterval(() => void stats(), POLL_MS);
void stats();
route();
