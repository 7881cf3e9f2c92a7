// The console's HTTP server: the JSON API over the store, the page, its script and the chart library, all served
// from this process (no network at run time). It shows every attribute and log line it received, so it listens on
// loopback unless told otherwise, answers only requests addressed to a loopback name (no DNS rebinding), sends no
// CORS headers, and forbids framing and scripts from anywhere else.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, existsSync } from 'node:fs';
import { createRequire, stripTypeScriptTypes } from 'node:module';
import { join } from 'node:path';
import type { ConsoleStore } from './store.ts';
import { CONSOLE_CSS, CONSOLE_HTML } from './page.ts';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith('127.');
}

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

/** The browser script: compiled next to this file in dist/, type-stripped from the source when run from src/. */
function consoleScript(): string {
  const built = join(import.meta.dirname, 'web', 'console.js');
  if (existsSync(built)) return readFileSync(built, 'utf8');
  return stripTypeScriptTypes(readFileSync(join(import.meta.dirname, 'web', 'console.ts'), 'utf8'));
}

function assets(): Record<string, { type: string; body: string | Buffer }> {
  const require = createRequire(import.meta.url);
  return {
    '/': { type: 'text/html; charset=utf-8', body: CONSOLE_HTML },
    '/assets/console.css': { type: 'text/css; charset=utf-8', body: CONSOLE_CSS },
    '/assets/console.js': { type: 'text/javascript; charset=utf-8', body: consoleScript() },
    '/assets/uPlot.iife.min.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js')) },
    '/assets/uPlot.min.css': { type: 'text/css; charset=utf-8', body: readFileSync(require.resolve('uplot/dist/uPlot.min.css')) },
  };
}

export class ConsoleServer {
  private server?: Server;
  private files?: ReturnType<typeof assets>;
  url = '';
  private readonly store: ConsoleStore;
  private readonly host: string;
  private readonly port: number;

  constructor(store: ConsoleStore, host: string, port: number) {
    this.store = store;
    this.host = host;
    this.port = port;
  }

  async start(): Promise<void> {
    this.files = assets();
    const server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const { port } = server.address() as AddressInfo;
    const shown = this.host === '0.0.0.0' || this.host === '::' ? '127.0.0.1' : this.host.includes(':') ? `[${this.host}]` : this.host;
    this.url = `http://${shown}:${port}/`;
  }

  async stop(): Promise<void> {
    if (this.server === undefined) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://console');
    // A page on another site can point a DNS name at 127.0.0.1; its requests carry that name in Host.
    const hostName = (req.headers.host ?? '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    if (isLoopback(this.host) && !isLoopback(hostName)) return send(res, 421, 'application/json', JSON.stringify({ error: 'the console answers only requests for a loopback address' }));
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'application/json', JSON.stringify({ error: 'only GET' }));
    const file = this.files![url.pathname];
    if (file !== undefined) return send(res, 200, file.type, file.body);
    const json = (status: number, value: unknown) => send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
    const q = url.searchParams;
    const int = (name: string) => (q.get(name) && Number.isFinite(Number(q.get(name))) ? Number(q.get(name)) : undefined);
    const str = (name: string) => q.get(name)?.trim() || undefined;
    const path = url.pathname;
    if (path === '/api/stats') return json(200, this.store.stats());
    if (path === '/api/traces') {
      return json(200, { traces: this.store.listTraces({ name: str('name'), minDurationMs: int('minDurationMs'), errorsOnly: q.get('errors') === 'true', traceId: str('traceId'), limit: int('limit') }) });
    }
    const trace = /^\/api\/traces\/([0-9a-fA-F]{1,32})$/.exec(path);
    if (trace) {
      const found = this.store.getTrace(trace[1]!);
      return found ? json(200, found) : json(404, { error: `trace ${trace[1]} is not (or no longer) stored` });
    }
    if (path === '/api/metrics') return json(200, { metrics: this.store.listMetrics() });
    const metric = /^\/api\/metrics\/([^/]+)$/.exec(path);
    if (metric) {
      const name = decodeURIComponent(metric[1]!);
      const found = this.store.getMetric(name, int('series'));
      return found ? json(200, found) : json(404, { error: `metric ${name} is not stored` });
    }
    if (path === '/api/logs') {
      return json(200, { logs: this.store.listLogs({ text: str('q'), minSeverity: int('minSeverity'), traceId: str('traceId'), limit: int('limit') }) });
    }
    json(404, { error: `unknown path ${path}` });
  }
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
