import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { aggregate } from '../../src/load/aggregate.ts';
import { parseCli } from '../../src/load/args.ts';
import { newHistogram, runLoad, type RunResult } from '../../src/load/engine.ts';
import { charts, commandLine, esc, percentileCurve, renderReport, scriptJson, verdict } from '../../src/load/report.ts';
import { close, listen } from '../helpers/local-server.ts';
import { loadCli as cli } from '../helpers/load-cli.ts';

const MARKUP = `<img src=x onerror="document.title='pwned'"></script><script>alert(1)</script>`;
let server: Server;
let base = '';
let count = 0;
const dir = mkdtempSync(join(tmpdir(), 'load-report-'));

before(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () =>
      setTimeout(() => {
        count++;
        if (count % 4 === 0) res.writeHead(500, { 'content-type': 'text/html' }).end(MARKUP);
        else res.end(JSON.stringify({ trace_id: createHash('md5').update(String(count)).digest('hex') }));
      }, 2),
    );
  });
  base = await listen(server);
});

after(async () => {
  await close(server);
  rmSync(dir, { recursive: true, force: true });
});

async function report(argv: string[]): Promise<{ html: string; run: RunResult }> {
  const { options: cli } = parseCli(['--url', base, ...argv]);
  assert.ok(cli);
  const run = await runLoad(cli.load);
  const summary = aggregate(run, cli, { url: `${base}/debug/traces/lookup`, queried: 3, delivered: 0, missing: [], error: `answered 502: ${MARKUP}` });
  return { html: renderReport({ summary, run, cli, argv: ['--url', base, ...argv] }), run };
}

test('text from the run (error bodies, audit errors, the command line) is escaped, and only the two inlined scripts exist', async () => {
  const { html, run } = await report(['--requests', '20', '--rate', '100', '--slo', 'p99<1s', '--endpoint', `/predict?q='x'`]);
  assert.ok((run.series?.errorMessages.length ?? 0) > 0, 'the server answered some requests with markup');
  assert.equal(html.match(/<script\b/g)?.length, 2, 'two script elements: uPlot and the charts');
  assert.equal(html.match(/<\/script>/g)?.length, 2);
  assert.doesNotMatch(html, /<img\b/);
  assert.match(html, /&lt;img src=x onerror=&quot;document\.title=&#39;pwned&#39;&quot;&gt;/);
  assert.match(html, /<pre id="command"><code>npm run load -- --url http:\/\/127\.0\.0\.1:\d+ --requests 20 --rate 100 --slo &#39;p99&lt;1s&#39; --endpoint &#39;\/predict\?q=&#39;\\&#39;&#39;x&#39;\\&#39;&#39;&#39;<\/code><\/pre>/);
});

test("the Content Security Policy allows exactly the page's two scripts, by hash, and no network", async () => {
  const { html } = await report(['--requests', '10']);
  const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1]?.replace(/&#39;/g, "'");
  assert.ok(csp);
  assert.match(csp, /default-src 'none'/);
  const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1] as string);
  const hashes = scripts.map((s) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`);
  assert.equal(/script-src ([^;]+)/.exec(csp)?.[1], hashes.join(' '));
});

test('the report says whether the objectives were met, before anything else in the page', async () => {
  const met = (await report(['--requests', '10', '--slo', 'p99<10s'])).html;
  const missed = (await report(['--requests', '10', '--slo', 'p99<10s', '--slo', 'p50<1us'])).html;
  const none = (await report(['--requests', '10'])).html;
  const banner = (html: string): string => /<section id="verdict" class="verdict (\w+)"[^>]*>\s*<h2[^>]*>.*?<\/span> ([^<]+)<\/h2>/.exec(html)?.slice(1).join(' ') ?? '';
  assert.equal(banner(met), 'ok Objective met');
  assert.equal(banner(missed), 'fail 1 of 2 objectives missed');
  assert.equal(banner(none), 'none No objectives given');
  assert.ok(met.indexOf('id="verdict"') < met.indexOf('id="throughput"'));
});

test('a run that got no answer fails the verdict whatever the objectives say', async () => {
  const { options: cli } = parseCli(['--url', base, '--requests', '3', '--slo', 'errors<=100%']);
  assert.ok(cli);
  const run = await runLoad(cli.load);
  const summary = aggregate(run, cli);
  const unanswered = { ...summary, requests: { ...summary.requests, answered: 0 } };
  assert.equal(verdict(summary).kind, 'ok');
  assert.equal(verdict(unanswered).kind, 'fail');
});

test('the percentile curve rises from the minimum to the maximum, and its last point is the maximum', () => {
  const h = newHistogram();
  for (let ms = 1; ms <= 1000; ms++) h.recordValue(ms * 1000);
  const { x, ms } = percentileCurve(h);
  assert.equal(x[0], 1);
  assert.ok(Math.abs((ms[0] as number) - 1) < 0.01);
  assert.ok(ms.every((v, i) => i === 0 || v >= (ms[i - 1] as number)), 'non-decreasing');
  assert.ok(x.every((v, i) => i === 0 || v > (x[i - 1] as number)), 'x strictly increasing (log scale)');
  const at = (q: number): number => ms[x.findIndex((v) => Math.abs(v - 1 / (1 - q)) < 1e-6)] as number;
  assert.ok(Math.abs(at(0.9) - 900) <= 1, `p90 ${at(0.9)}`);
  assert.ok(Math.abs(at(0.99) - 990) <= 1, `p99 ${at(0.99)}`);
  assert.equal(ms.at(-1), 1000);
  assert.equal(x.at(-1), 10_000);
  assert.deepEqual(percentileCurve(newHistogram()), { x: [], ms: [] });
});

test('the charts hold one point per second, the target rate in the open model, and a line per status and error class', async () => {
  const { options: cli } = parseCli(['--url', base, '--requests', '30', '--rate', '50']);
  assert.ok(cli);
  const run = await runLoad(cli.load);
  const summary = aggregate(run, cli);
  const specs = charts(summary, run, run.series!);
  const byId = Object.fromEntries(specs.map((s) => [s.id, s]));
  const seconds = run.series!.seconds.length;
  assert.equal(byId['chart-throughput']?.x.length, seconds);
  assert.deepEqual(byId['chart-throughput']?.series.map((s) => s.label), ['completed/s', 'successful/s', 'sent/s (achieved)', 'target rate']);
  assert.deepEqual(byId['chart-outcomes']?.series.map((s) => s.label), ['HTTP 200', 'HTTP 500']);
  assert.deepEqual(byId['chart-distribution']?.series.map((s) => s.label), ['latency (ms)', 'service time (ms)']);
  assert.equal(byId['chart-latency']?.series.length, 4);
});

test('helpers: escaping, JSON inside a script element, and shell quoting', () => {
  assert.equal(esc(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  const json = scriptJson({ s: '</script><!-- \u2028' });
  assert.doesNotMatch(json, /<|>|\u2028/);
  assert.deepEqual(JSON.parse(json), { s: '</script><!-- \u2028' });
  assert.equal(commandLine(['--url', 'http://h:1', '--slo', 'p99<200ms', "it's"]), `npm run load -- --url http://h:1 --slo 'p99<200ms' 'it'\\''s'`);
});


test('--report writes the HTML file and leaves the JSON summary as it was', async () => {
  const file = join(dir, 'run.html');
  const r = await cli(['--url', base, '--requests', '12', '--json', '--quiet', '--report', file]);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as Record<string, unknown>;
  const plain = await cli(['--url', base, '--requests', '12', '--json', '--quiet']);
  assert.deepEqual(Object.keys(summary), Object.keys(JSON.parse(plain.stdout) as Record<string, unknown>));
  const html = readFileSync(file, 'utf8');
  assert.match(html, /^<!doctype html>/);
  assert.match(html, /uPlot/);
  const bad = await cli(['--url', base, '--report', '']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--report must name a file/);
});
