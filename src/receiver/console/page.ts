// The console's page and style sheet. The page is an empty frame: web/console.ts builds every view with DOM calls
// (textContent, never innerHTML), so nothing received can turn into markup.
export const CONSOLE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Telemetry console</title>
<link rel="stylesheet" href="/assets/uPlot.min.css">
<link rel="stylesheet" href="/assets/console.css">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
  <h1>Telemetry console</h1>
  <nav aria-label="Pages">
    <a href="#/traces" data-page="traces">Traces</a>
    <a href="#/metrics" data-page="metrics">Metrics</a>
    <a href="#/logs" data-page="logs">Logs</a>
  </nav>
  <p id="stats" aria-live="off"></p>
</header>
<main id="main" tabindex="-1"></main>
<script src="/assets/uPlot.iife.min.js"></script>
<script type="module" src="/assets/console.js"></script>
</body>
</html>
`;

export const CONSOLE_CSS = `
:root { color-scheme: light dark; --fg: #1d2330; --muted: #5b6475; --bg: #ffffff; --panel: #f4f6fa; --line: #d7dce5;
  --accent: #2457c5; --err: #c0262d; --bar: #4f7fe0; --focus: #ff9f1c; font: 14px/1.45 system-ui, sans-serif; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e9ef; --muted: #9aa3b5; --bg: #14171d; --panel: #1d212a; --line: #323846;
  --accent: #7fa6ff; --err: #ff6b6b; --bar: #5d8cf0; } }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 1.5rem; padding: .6rem 1.2rem; border-bottom: 1px solid var(--line); background: var(--panel); }
h1 { font-size: 1.15rem; margin: 0; }
h2 { font-size: 1.1rem; margin: 1rem 0 .5rem; }
h3 { font-size: 1rem; margin: .8rem 0 .3rem; }
nav a { margin-right: 1rem; font-weight: 600; text-decoration: none; color: var(--accent); padding: .2rem .1rem; }
nav a[aria-current="page"] { border-bottom: 3px solid var(--accent); }
#stats { margin: 0 0 0 auto; color: var(--muted); font-size: .85rem; }
main { padding: .8rem 1.2rem 3rem; max-width: 1400px; }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.skip { position: absolute; left: -999px; } .skip:focus { left: .5rem; top: .5rem; background: var(--bg); padding: .3rem; z-index: 9; }
form.filters { display: flex; flex-wrap: wrap; gap: .8rem; align-items: end; margin-bottom: .8rem; }
form.filters label { display: flex; flex-direction: column; font-size: .8rem; color: var(--muted); }
form.filters label.check { flex-direction: row; align-items: center; gap: .3rem; }
input, select, button { font: inherit; color: inherit; background: var(--bg); border: 1px solid var(--line); border-radius: 4px; padding: .3rem .45rem; }
button { cursor: pointer; background: var(--panel); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
caption { text-align: left; font-size: .8rem; padding: .2rem 0; }
th { font-size: .8rem; color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .85em; }
.err { color: var(--err); font-weight: 600; }
.muted { color: var(--muted); }
.empty { color: var(--muted); padding: 1rem 0; }
.waterfall { border: 1px solid var(--line); border-radius: 6px; }
.span-row { display: grid; grid-template-columns: minmax(16rem, 34%) 1fr 6rem; align-items: center; gap: .5rem; width: 100%;
  border: 0; border-bottom: 1px solid var(--line); border-radius: 0; background: transparent; text-align: left; padding: .25rem .5rem; }
.span-row:hover, .span-row[aria-expanded="true"] { background: var(--panel); }
.span-name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.track { position: relative; height: 14px; }
.bar { position: absolute; top: 0; height: 14px; min-width: 2px; border-radius: 2px; background: var(--bar); }
.bar.error { background: var(--err); }
.span-detail { padding: .4rem 1rem .8rem; border-bottom: 1px solid var(--line); background: var(--panel); }
.span-detail table { margin-bottom: .5rem; }
.span-detail td:first-child { width: 16rem; color: var(--muted); }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 1rem; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: .6rem .8rem; background: var(--bg); }
.card header { all: unset; display: flex; justify-content: space-between; gap: .5rem; align-items: baseline; }
.card h3 { margin: 0; }
.card p { margin: .2rem 0 .4rem; color: var(--muted); font-size: .85rem; }
.chart { min-height: 240px; }
.metric-list { display: flex; flex-wrap: wrap; gap: .4rem; padding: 0; list-style: none; }
.logs details { display: inline-block; margin-left: .8rem; font-size: .8rem; vertical-align: baseline; }
.logs details[open] { display: block; margin: .2rem 0 0; }
.sev-warn { color: #b26a00; } .sev-error, .sev-fatal { color: var(--err); font-weight: 600; }
`;
