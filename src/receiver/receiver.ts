// A local OTLP receiver: what the OpenTelemetry Collector's `otlp` receiver + `debug` exporter + `health_check`
// extension do, on one machine with no cluster. OTLP/gRPC (default 4317) and OTLP/HTTP protobuf and JSON (4318),
// answered as the Collector answers; every export printed in the debug exporter's layout; health on 13133.
// It also keeps what it received (bounded), for tests and for the load generator's trace audit:
// POST /debug/traces/lookup {"trace_ids":[...]} -> {"received":[...],"missing":[...]} on the HTTP port, and
// GET /debug/counts -> what has arrived so far (spans, metrics, log records, exports, rejected).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Http2Server, ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { gunzip, inflate } from 'node:zlib';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { formatExport, MetricMemory, type Verbosity } from './debug-format.ts';
import { ConsoleServer } from './console/api.ts';
import { ConsoleStore, type ConsoleLimits } from './console/store.ts';
import {
  COUNT_PATH,
  countAtPath,
  decodeJson,
  decodeProtobuf,
  encodeResponse,
  logsOf,
  metricsOf,
  spansOf,
  SIGNALS,
  type ReceivedLog,
  type ReceivedMetric,
  type ReceivedSpan,
  type Signal,
} from './otlp-model.ts';

/** The ceiling of grpc-go's bandwidth-delay window growth (bdpLimit), which the Collector's gRPC server uses. */
export const GRPC_WINDOW_BYTES = 16 * 1024 * 1024;
/** The Collector's confighttp `max_request_body_size` default. */
export const DEFAULT_MAX_BODY_BYTES = 20 * 1024 * 1024;
const gunzipAsync = promisify(gunzip);
const inflateAsync = promisify(inflate);

export interface ReceiverOptions {
  host?: string;
  grpcPort?: number;
  httpPort?: number;
  healthPort?: number;
  /** Print every export to stdout in the debug exporter's layout. */
  print?: boolean;
  /** As the Collector's debug exporter, plus `focused` (see debug-format.ts); `detailed` prints everything. */
  verbosity?: Verbosity;
  /** Keep decoded spans, metrics and logs (bounded by maxStored each); off in counting mode. */
  store?: boolean;
  maxStored?: number;
  /**
   * Largest accepted export, bytes, both as sent and after decompression: the OTLP/HTTP body and the OTLP/gRPC
   * message (default DEFAULT_MAX_BODY_BYTES). Larger gets 413 on HTTP, RESOURCE_EXHAUSTED on gRPC.
   */
  maxBodyBytes?: number;
  /** The web console (console/): a page and JSON API over bounded stores of what arrived. Off unless enabled. */
  console?: { enabled: boolean; host?: string; port?: number; limits?: Partial<ConsoleLimits> };
  write?: (text: string) => void;
}

export interface ReceiverCounts {
  spans: number;
  /** Metrics received (a metric with N data points counts once). */
  metrics: number;
  /** Data points received (decoding mode only). */
  metricPoints: number;
  logRecords: number;
  exports: Record<Signal, number>;
  rejected: number;
}

type Waiter = { check: () => boolean; resolve: () => void };

export class OtlpReceiver {
  readonly options: Required<Omit<ReceiverOptions, 'write'>> & { write: (text: string) => void };
  readonly spans: ReceivedSpan[] = [];
  readonly metrics: ReceivedMetric[] = [];
  readonly logs: ReceivedLog[] = [];
  readonly counts: ReceiverCounts = { spans: 0, metrics: 0, metricPoints: 0, logRecords: 0, exports: { traces: 0, metrics: 0, logs: 0 }, rejected: 0 };
  /** Trace ids seen (bounded by maxStored * 4). Counting mode decodes nothing, so it records none. */
  private readonly seenTraceIds = new Set<string>();
  /** Metrics as last printed, for focused verbosity. */
  private readonly metricMemory = new MetricMemory();
  private grpcServer?: grpc.Server;
  private httpServer?: Server;
  private healthServer?: Server;
  private waiters: Waiter[] = [];
  private upSince = new Date();
  private consoleServer?: ConsoleServer;
  /** What the console shows; undefined when the console is off or nothing is decoded (counting mode). */
  readonly consoleStore?: ConsoleStore;
  /** The console's address once started ('' when off or when it could not listen: see consoleError). */
  consoleUrl = '';
  consoleError = '';
  grpcUrl = '';
  httpUrl = '';
  healthUrl = '';

  constructor(options: ReceiverOptions = {}) {
    this.options = {
      host: options.host ?? '127.0.0.1',
      grpcPort: options.grpcPort ?? 4317,
      httpPort: options.httpPort ?? 4318,
      healthPort: options.healthPort ?? 13133,
      print: options.print ?? false,
      verbosity: options.verbosity ?? 'detailed',
      store: options.store ?? true,
      maxStored: options.maxStored ?? 100_000,
      maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      console: options.console ?? { enabled: false },
      write: options.write ?? ((text) => void process.stdout.write(text)),
    };
    if (this.options.console.enabled && !this.counting) this.consoleStore = new ConsoleStore(this.options.console.limits);
  }

  /**
   * HTTP/2 flow-control windows of GRPC_WINDOW_BYTES for every gRPC connection, as the Collector's gRPC server
   * (grpc-go) reaches by its bandwidth-delay estimation. grpc-js servers keep Node's 64 KiB and have no option for it
   * (https://github.com/grpc/grpc-node/pull/3058 adds one), so an exporter sending a large batch waits for several
   * WINDOW_UPDATEs; the saving is in docs/PERFORMANCE.md. grpc-js keeps its HTTP/2 servers in a private field; without
   * it (another grpc-js version) the windows stay as they are, and test/receiver/receiver.test.ts fails.
   */
  private widenFlowControlWindows(): void {
    const servers = (this.grpcServer as unknown as { http2Servers?: Map<Http2Server, unknown> }).http2Servers;
    for (const server of servers?.keys() ?? []) {
      server.on('session', (session: ServerHttp2Session) => {
        session.setLocalWindowSize(GRPC_WINDOW_BYTES);
        session.settings({ initialWindowSize: GRPC_WINDOW_BYTES });
      });
    }
  }

  async start(): Promise<void> {
    const { host } = this.options;
    this.upSince = new Date();
    // grpc-js applies this limit to the message as received and again while it inflates a compressed one
    // (RESOURCE_EXHAUSTED), stopping the inflation at the limit.
    this.grpcServer = new grpc.Server({ 'grpc.max_receive_message_length': this.options.maxBodyBytes });
    for (const signal of Object.keys(SIGNALS) as Signal[]) {
      const { service } = SIGNALS[signal];
      this.grpcServer.addService(
        {
          Export: {
            path: `/${service}/Export`,
            requestStream: false,
            responseStream: false,
            requestSerialize: (x: Uint8Array) => Buffer.from(x),
            requestDeserialize: (buf: Buffer) => buf,
            responseSerialize: (x: Uint8Array) => Buffer.from(x),
            responseDeserialize: (buf: Buffer) => buf,
          },
        },
        {
          Export: (call: grpc.ServerUnaryCall<Buffer, Uint8Array>, callback: grpc.sendUnaryData<Uint8Array>) => {
            try {
              if (this.counting) this.count(signal, countAtPath(call.request, COUNT_PATH[signal]));
              else this.accept(signal, decodeProtobuf(signal, call.request));
              callback(null, encodeResponse(signal));
            } catch (err) {
              this.counts.rejected++;
              callback({ code: grpc.status.INVALID_ARGUMENT, details: `cannot decode ${signal}: ${(err as Error).message}` });
            }
          },
        },
      );
    }
    const grpcPort = await new Promise<number>((resolve, reject) =>
      this.grpcServer!.bindAsync(`${host}:${this.options.grpcPort}`, grpc.ServerCredentials.createInsecure(), (err, port) =>
        err ? reject(err) : resolve(port),
      ),
    );
    this.grpcUrl = `http://${host}:${grpcPort}`;
    this.widenFlowControlWindows();
    this.httpServer = await listen(createServer((req, res) => void this.handleHttp(req, res)), host, this.options.httpPort);
    this.httpUrl = `http://${host}:${(this.httpServer.address() as AddressInfo).port}`;
    this.healthServer = await listen(createServer((req, res) => this.handleHealth(req, res)), host, this.options.healthPort);
    this.healthUrl = `http://${host}:${(this.healthServer.address() as AddressInfo).port}`;
    if (this.consoleStore !== undefined) {
      const server = new ConsoleServer(this.consoleStore, this.options.console.host ?? '127.0.0.1', this.options.console.port ?? 4380);
      // A console that cannot listen (its port taken by another receiver) leaves the receiver itself working.
      try {
        await server.start();
        this.consoleServer = server;
        this.consoleUrl = server.url;
      } catch (err) {
        this.consoleError = `console not started: ${(err as Error).message}`;
      }
    }
  }

  async stop(): Promise<void> {
    await Promise.all([
      new Promise<void>((resolve) => (this.grpcServer ? this.grpcServer.tryShutdown(() => resolve()) : resolve())),
      close(this.httpServer),
      close(this.healthServer),
      this.consoleServer?.stop(),
    ]);
  }

  traceIds(): Set<string> {
    return this.seenTraceIds;
  }

  /** Resolves once `check()` is true (re-evaluated after every export), or rejects after `timeoutMs`. */
  waitFor(check: () => boolean, timeoutMs = 15_000, what = 'condition'): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`receiver: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  waitForTrace(traceId: string, timeoutMs?: number): Promise<void> {
    return this.waitFor(() => this.seenTraceIds.has(traceId), timeoutMs, `trace ${traceId}`);
  }

  /** Counting mode (print and store both off): count messages on the wire, decode nothing. */
  private get counting(): boolean {
    return !this.options.print && !this.options.store;
  }

  private count(signal: Signal, n: number): void {
    this.counts.exports[signal]++;
    if (signal === 'traces') this.counts.spans += n;
    else if (signal === 'metrics') this.counts.metrics += n;
    else this.counts.logRecords += n;
  }

  private accept(signal: Signal, req: Record<string, unknown>): void {
    this.counts.exports[signal]++;
    if (this.options.print) this.options.write(formatExport(signal, req, this.options.verbosity, new Date(), this.metricMemory));
    const { store, maxStored } = this.options;
    if (signal === 'traces') {
      const spans = spansOf(req);
      this.counts.spans += spans.length;
      for (const s of spans) {
        if (this.seenTraceIds.size >= maxStored * 4) this.seenTraceIds.delete(this.seenTraceIds.values().next().value!);
        this.seenTraceIds.add(s.traceId);
      }
      if (store) pushBounded(this.spans, spans, maxStored);
      this.consoleStore?.addSpans(spans);
    } else if (signal === 'metrics') {
      const metrics = metricsOf(req);
      this.counts.metrics += metrics.length;
      this.counts.metricPoints += metrics.reduce((n, m) => n + m.dataPoints.length, 0);
      if (store) pushBounded(this.metrics, metrics, maxStored);
      this.consoleStore?.addMetrics(metrics);
    } else {
      const logs = logsOf(req);
      this.counts.logRecords += logs.length;
      if (store) pushBounded(this.logs, logs, maxStored);
      this.consoleStore?.addLogs(logs);
    }
    if (this.waiters.length > 0) {
      const done = this.waiters.filter((w) => w.check());
      this.waiters = this.waiters.filter((w) => !done.includes(w));
      for (const w of done) w.resolve();
    }
  }

  private async handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0];
    const signal = ({ '/v1/traces': 'traces', '/v1/metrics': 'metrics', '/v1/logs': 'logs' } as Record<string, Signal>)[path!];
    if (path === '/debug/traces/lookup' && req.method === 'POST') return this.lookup(req, res);
    if (path === '/debug/counts' && req.method === 'GET') return reply(res, 200, 'application/json', JSON.stringify(this.counts));
    if (signal === undefined) return reply(res, 404, 'application/json', JSON.stringify({ code: 5, message: `unknown path ${path}` }));
    if (req.method !== 'POST') return reply(res, 405, 'application/json', JSON.stringify({ code: 12, message: 'method not allowed, supported: [POST]' }));
    const type = (req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
    const isJson = type === 'application/json';
    if (!isJson && type !== 'application/x-protobuf') {
      return reply(res, 415, 'application/json', JSON.stringify({ code: 3, message: `unsupported content type ${type}, supported: [application/json, application/x-protobuf]` }));
    }
    let body: Buffer;
    try {
      body = await readBody(req, this.options.maxBodyBytes);
      body = await decompress(body, req.headers['content-encoding'], this.options.maxBodyBytes);
      if (this.counting && !isJson) this.count(signal, countAtPath(body, COUNT_PATH[signal]));
      else this.accept(signal, isJson ? decodeJson(signal, body.toString('utf8')) : decodeProtobuf(signal, body));
    } catch (err) {
      this.counts.rejected++;
      const status = (err as { status?: number }).status ?? 400;
      if (status === 413) res.setHeader('connection', 'close'); // do not wait for the rest of an oversized body
      return reply(res, status, isJson ? 'application/json' : 'application/json', JSON.stringify({ code: 3, message: (err as Error).message }));
    }
    if (isJson) return reply(res, 200, 'application/json', '{}');
    return reply(res, 200, 'application/x-protobuf', Buffer.from(encodeResponse(signal)));
  }

  private async lookup(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const parsed = JSON.parse((await readBody(req, this.options.maxBodyBytes)).toString('utf8')) as { trace_ids?: unknown };
      if (!Array.isArray(parsed.trace_ids) || !parsed.trace_ids.every((x) => typeof x === 'string')) {
        return reply(res, 400, 'application/json', JSON.stringify({ error: 'body must be {"trace_ids": ["<32 hex>", ...]}' }));
      }
      const ids = parsed.trace_ids as string[];
      const received = ids.filter((id) => this.seenTraceIds.has(id.toLowerCase()));
      const missing = ids.filter((id) => !this.seenTraceIds.has(id.toLowerCase()));
      reply(res, 200, 'application/json', JSON.stringify({ received, missing }));
    } catch (err) {
      reply(res, 400, 'application/json', JSON.stringify({ error: (err as Error).message }));
    }
  }

  private handleHealth(_req: IncomingMessage, res: ServerResponse): void {
    // The health_check extension's body: {"status":"Server available","upSince":"...","uptime":"..."}.
    const uptimeS = (Date.now() - this.upSince.getTime()) / 1000;
    reply(res, 200, 'application/json', JSON.stringify({ status: 'Server available', upSince: this.upSince.toISOString(), uptime: goDuration(uptimeS) }));
  }
}

/** Go's time.Duration.String(): 1h2m3.5s, 15m0s, 1.2s. */
function goDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = +(seconds % 60).toFixed(3);
  return `${h > 0 ? `${h}h` : ''}${h > 0 || m > 0 ? `${m}m` : ''}${s}s`;
}

function pushBounded<T>(target: T[], items: T[], max: number): void {
  target.push(...items);
  if (target.length > max) target.splice(0, target.length - max);
}

function reply(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function tooLarge(limit: number): Error {
  return Object.assign(new Error(`body larger than ${limit} bytes`), { status: 413 });
}

/**
 * Inflates a gzip or deflate body, stopping as soon as the output passes `limit` (413), so a small compressed body
 * cannot grow into gigabytes. Corrupt or truncated data is a 400. Other encodings pass through, as before.
 */
async function decompress(body: Buffer, encoding: string | undefined, limit: number): Promise<Buffer> {
  const name = encoding?.trim().toLowerCase();
  if (name !== 'gzip' && name !== 'deflate') return body;
  try {
    return await (name === 'gzip' ? gunzipAsync : inflateAsync)(body, { maxOutputLength: limit });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(limit);
    throw new Error(`cannot decompress ${name} body: ${(err as Error).message}`);
  }
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] | undefined = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (chunks === undefined) return;
      if (size <= limit) chunks.push(chunk);
      else {
        // Reading on (discarding) lets the client finish sending and see the 413; the reply closes the connection.
        chunks = undefined;
        reject(tooLarge(limit));
      }
    });
    req.on('end', () => chunks && resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function listen(server: Server, host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

function close(server: Server | undefined): Promise<void> {
  if (server === undefined) return Promise.resolve();
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
