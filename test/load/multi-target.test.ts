// Several targets in one run: round robin per request, per-target figures, the pre-flight per target, and failover
// (a refused connection is resent elsewhere; a request that was sent is never resent). Stand-in servers; the
// three-replica run of the real service is test/reliability/rolling-update.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseCli } from '../../src/load/args.ts';
import { LoadRun } from '../../src/load/engine.ts';
import type { Summary } from '../../src/load/aggregate.ts';
import { close, listen } from '../helpers/local-server.ts';
import { loadCli } from '../helpers/load-cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'load-multi-'));

// Three services that count what they receive; `resetter` reads each request and drops the connection unanswered;
// `closedUrl` is a port where nothing listens.
const hits = [0, 0, 0];
let services: Server[] = [];
let resetter: Server;
let urls: string[] = [];
let resetterUrl = '';
let closedUrl = '';
let resetterHits = 0;

before(async () => {
  services = hits.map((_, i) =>
    createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        hits[i]!++;
        res.writeHead(200, { 'content-type': 'application/json' }).end(`{"prediction":4.0,"trace_id":"${'ab'.repeat(8)}${String(hits[i]).padStart(8, '0')}${String(i).padStart(8, '0')}"}`);
      });
    }),
  );
  urls = await Promise.all(services.map(listen));
  resetter = createServer((req) => {
    req.resume();
    req.on('end', () => {
      resetterHits++;
      req.socket.destroy();
    });
  });
  resetterUrl = await listen(resetter);
  const closed = createServer();
  closedUrl = await listen(closed);
  await close(closed);
});

after(async () => {
  await Promise.all([...services.map(close), close(resetter)]);
  rmSync(dir, { recursive: true, force: true });
});

const cli = (args: string[]) => loadCli(args, 60_000);

const urlFlags = (list: string[]): string[] => list.flatMap((u) => ['--url', u]);

test('requests are spread round robin over every --url, with per-target figures in the JSON and the text', async () => {
  hits.fill(0);
  const r = await cli([...urlFlags(urls), '--requests', '30', '--concurrency', '3', '--json', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as Summary;
  assert.deepEqual(hits, [10, 10, 10]);
  assert.equal(s.config.target, `${urls[0]}/predict`, 'the existing key keeps the first target');
  assert.deepEqual(
    s.targets.map((t) => [t.url, t.requests, t.successful, t.failed, t.retried, t.statusCodes['200'], t.latencyMs.count]),
    urls.map((u) => [`${u}/predict`, 10, 10, 0, 0, 10, 10]),
  );
  assert.equal(s.requests.retried, 0);
  assert.equal(s.traces.unique, 30);

  const text = await cli([...urlFlags(urls), '--requests', '9', '--concurrency', '3', '--quiet']);
  assert.equal(text.code, 0, text.stderr);
  for (const u of urls) assert.ok(text.stdout.includes(`  URL: ${u}/predict\n`), text.stdout);
  assert.match(text.stdout, /^ {2}Targets: 3, round robin per request/m);
  assert.match(text.stdout, /^Resent elsewhere: {3}0 /m);
  assert.match(text.stdout, /\nTargets:\n={40}\n/);
  for (const u of urls) {
    assert.ok(text.stdout.includes(`  ${u}/predict\n    requests 3, successful 3, failed 0, refused and resent 0; status 200: 3; errors none; p50 `), text.stdout);
  }
});

test('--targets reads one URL per line, ignoring blank lines and comments, after any --url', async () => {
  const file = join(dir, 'targets.txt');
  writeFileSync(file, `# replicas\n${urls[1]}\n\n  ${urls[2]}/predict  # with its path\n`);
  const { options, errors } = parseCli(['--url', urls[0]!, '--targets', file]);
  assert.deepEqual(errors, []);
  assert.deepEqual(options?.load.targets, urls.map((u) => `${u}/predict`));
  assert.equal(options?.fallbackUrl, null);
  const bad = parseCli(['--url', urls[0]!, '--url', `${urls[0]}/predict`, '--targets', join(dir, 'absent.txt')]);
  assert.deepEqual(bad.errors.map((e) => e.flag).sort(), ['--targets', '--url']);
  assert.match(bad.errors.find((e) => e.flag === '--url')!.message, /names .* twice/);
  const single = parseCli(['--url', urls[0]!]);
  assert.equal(single.options?.load.targets, undefined, 'one URL keeps the single-target options');
});

test('a dead target gets one pre-flight line; its requests are refused before sending, resent to the others, and none fails', async () => {
  hits.fill(0);
  const r = await cli([...urlFlags([urls[0]!, closedUrl, urls[1]!]), '--requests', '60', '--rate', '200', '--concurrency', '6', '--json', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, `load: ${closedUrl} does not answer (connection refused): its share goes to the other targets until it does\n`);
  const s = JSON.parse(r.stdout) as Summary;
  assert.equal(s.requests.failed, 0);
  assert.equal(s.requests.successful, 60);
  assert.equal(hits[0]! + hits[1]!, 60);
  const dead = s.targets[1]!;
  assert.equal(dead.url, `${closedUrl}/predict`);
  assert.ok(dead.requests >= 1, 'the dead target was tried');
  // Each refusal starts a back-off of a second: the 0.3 s run tries it a few times, not a third of the time.
  assert.ok(dead.requests <= 10, `tried ${dead.requests} times`);
  assert.equal(dead.retried, dead.requests);
  assert.equal(dead.successful + dead.failed, 0);
  assert.equal(s.requests.retried, dead.requests);
  assert.equal(s.errors.refused, 0);
});

test('a target that refused is tried again after its back-off, and takes its share once it listens', async () => {
  // A port that was free a moment ago: nothing listens until the run has seen it refuse.
  const late = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"prediction":4.0}'));
  });
  const probe = createServer();
  const lateUrl = await listen(probe);
  await close(probe);
  const run = new LoadRun({
    target: `${urls[0]}/predict`,
    targets: [`${urls[0]}/predict`, `${lateUrl}/predict`],
    method: 'POST',
    body: '{"features":[1,2,3]}',
    requests: null,
    durationMs: 3_500,
    rate: 40,
    concurrency: 4,
    timeoutMs: 5_000,
    propagate: false,
  });
  const refusedOnce = new Promise<void>((resolve) => run.on('progress', () => run.retried > 0 && resolve()));
  run.start();
  await refusedOnce;
  await new Promise<void>((resolve, reject) => {
    late.once('error', reject);
    late.listen(Number(new URL(lateUrl).port), '127.0.0.1', resolve);
  });
  try {
    const result = await run.result;
    const [, revived] = result.targets;
    assert.equal(result.failed, 0);
    assert.ok(revived!.retried >= 1, 'it refused first');
    // Requests are due for 3.5 s, half of them to each target: it takes a share again within a back-off or two.
    assert.ok(revived!.successful >= 10, `it answered only ${revived!.successful} after it came up`);
    assert.equal(result.successful, result.sent);
  } finally {
    await close(late);
  }
});

test('a request that was sent and then reset is never resent: it fails, counted at its target', async () => {
  resetterHits = 0;
  hits.fill(0);
  const r = await cli([...urlFlags([urls[0]!, resetterUrl]), '--requests', '10', '--concurrency', '2', '--json', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as Summary;
  const reset = s.targets[1]!;
  assert.equal(reset.requests, resetterHits, 'each request the resetter read was sent once');
  assert.ok(reset.requests >= 3, `only ${reset.requests} went to the resetter`);
  assert.equal(reset.errors.reset, reset.requests);
  assert.equal(reset.retried, 0);
  assert.equal(s.requests.retried, 0);
  assert.equal(s.requests.failed, reset.requests);
  assert.equal(s.requests.successful + s.requests.failed, 10);
});

test('when no target answers the run stops before it starts: one line per target and exit 3', async () => {
  const closed2 = createServer();
  const other = await listen(closed2);
  await close(closed2);
  const r = await cli([...urlFlags([closedUrl, other]), '--requests', '5']);
  assert.equal(r.code, 3);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 3, r.stderr);
  assert.match(lines[0]!, new RegExp(`^load: ${closedUrl} does not answer`));
  assert.match(lines[1]!, new RegExp(`^load: ${other} does not answer`));
  assert.match(lines[2]!, /^load: none of the 2 targets answers/);
  assert.equal(r.stdout, '');
});
