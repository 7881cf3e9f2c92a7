import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { main } from '../../src/load/cli.ts';
import { close, listen } from '../helpers/local-server.ts';
import { loadCli as cli } from '../helpers/load-cli.ts';

const HINT =
  "Start the service with `npm start`, or pass --url http://localhost:9000, or run the guide's port-forward: " +
  'kubectl port-forward -n ai-ml-lab-2-2 svc/ai-lab-2-2-paid 9002:9000';

// `service` answers like the inference service; `resetter` accepts connections and drops every request unanswered;
// `noHealth` answers 404 on /health; `closed` is a port where nothing listens (bound, noted, closed).
let service: Server;
let resetter: Server;
let noHealth: Server;
let serviceUrl = '';
let resetterUrl = '';
let noHealthUrl = '';
let closedUrl = '';
const hits = { predict: 0, health: 0, noHealth: 0 };

before(async () => {
  service = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/health') {
        hits.health++;
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"healthy"}');
      } else {
        hits.predict++;
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"prediction":4.0}');
      }
    });
  });
  resetter = createServer((req) => req.socket.destroy());
  noHealth = createServer((req, res) => {
    hits.noHealth++;
    req.resume();
    res.writeHead(404).end();
  });
  serviceUrl = await listen(service);
  resetterUrl = await listen(resetter);
  noHealthUrl = await listen(noHealth);
  const closed = createServer();
  closedUrl = await listen(closed);
  await close(closed);
});

after(async () => {
  await Promise.all([close(service), close(resetter), close(noHealth)]);
});


/** Runs the CLI in this process with the default and fallback URLs pointed at this test's servers. */
async function inProcess(args: string[], defaults: { url: string; fallbackUrl: string | null }) {
  const out = { stdout: '', stderr: '' };
  const sink = (key: 'stdout' | 'stderr'): Writable =>
    new Writable({
      write(chunk, _encoding, callback) {
        out[key] += String(chunk);
        callback();
      },
    });
  const code = await main(args, { stdout: sink('stdout'), stderr: sink('stderr') }, defaults);
  return { code, ...out };
}

test('a URL where nothing listens stops the run with one line naming it and what to do, and exit code 3', async () => {
  const r = await cli(['--url', closedUrl, '--requests', '20']);
  assert.equal(r.code, 3);
  assert.equal(r.stderr, `load: nothing listens at ${closedUrl} (connection refused). ${HINT}\n`);
  assert.equal(r.stdout, '');
  assert.doesNotMatch(r.stdout + r.stderr, /saturated/i);
});

test('with --json a URL where nothing listens prints no summary and the same line', async () => {
  const r = await cli(['--url', closedUrl, '--requests', '20', '--json', '--slo', 'p99<200ms']);
  assert.equal(r.code, 3);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, new RegExp(`^load: nothing listens at ${closedUrl} \\(connection refused\\)\\. Start the service`));
  assert.doesNotMatch(r.stderr, /saturated/i);
});

test('a service that drops every request gets a report without a saturation verdict, a line saying so, and exit code 3', async () => {
  const r = await cli(['--url', resetterUrl, '--requests', '20', '--concurrency', '4', '--quiet']);
  assert.equal(r.code, 3, r.stderr);
  assert.equal(r.stderr, `load: no request to ${resetterUrl} was answered (reset 20): the service stopped listening or never answered.\n`);
  assert.match(r.stdout, /^Failed: {13}20$/m);
  assert.match(r.stdout, /! No request was answered \(20 failed before a response\)/);
  assert.doesNotMatch(r.stdout, /saturated/i);
  const json = await cli(['--url', resetterUrl, '--requests', '20', '--concurrency', '4', '--json']);
  assert.equal(json.code, 3);
  const s = JSON.parse(json.stdout) as { requests: { answered: number; failed: number }; client: { saturated: boolean } };
  assert.equal(s.requests.answered, 0);
  assert.equal(s.requests.failed, 20);
  assert.equal(s.client.saturated, false);
});

test('without --url, when nothing listens at the default and the fallback answers /health, the run uses the fallback and says so in one line', async () => {
  hits.predict = 0;
  hits.health = 0;
  const r = await inProcess(['--requests', '12', '--quiet'], { url: closedUrl, fallbackUrl: serviceUrl });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.equal(
    lines[0],
    `Using ${serviceUrl}, which answers /health (\`npm start\`): nothing listens at ${closedUrl} (the guide's port-forward). Pass --url to choose.`,
  );
  assert.equal(lines[1], 'Starting load test...');
  assert.ok(lines.includes(`  URL: ${serviceUrl}/predict`), r.stdout);
  assert.match(r.stdout, /^Successful: {9}12$/m);
  assert.equal(hits.health, 1);
  assert.equal(hits.predict, 12);
  assert.equal(r.stderr, '');
});

test('without --url, when the default listens, the fallback is never asked', async () => {
  hits.noHealth = 0;
  const r = await inProcess(['--requests', '5', '--quiet'], { url: serviceUrl, fallbackUrl: noHealthUrl });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.startsWith('Starting load test...\n'), r.stdout);
  assert.equal(hits.noHealth, 0);
});

test('without --url, when the fallback does not answer /health with 2xx, the line names both URLs and the run stops', async () => {
  hits.noHealth = 0;
  const r = await inProcess(['--requests', '5'], { url: closedUrl, fallbackUrl: noHealthUrl });
  assert.equal(r.code, 3);
  assert.equal(r.stderr, `load: nothing listens at ${closedUrl} (connection refused), and ${noHealthUrl}/health does not answer either. ${HINT}\n`);
  assert.equal(r.stdout, '');
  assert.equal(hits.noHealth, 1);
});

test('an explicit --url is never replaced by the fallback, even when the fallback answers', async () => {
  hits.health = 0;
  const r = await inProcess(['--url', closedUrl, '--requests', '5'], { url: serviceUrl, fallbackUrl: serviceUrl });
  assert.equal(r.code, 3);
  assert.match(r.stderr, /^load: nothing listens at /);
  assert.equal(hits.health, 0);
});
