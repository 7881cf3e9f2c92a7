// Command-line arguments of the load generator: parse (node:util parseArgs), then validate into one frozen
// options object. Both steps return errors that name the flag instead of throwing, so the CLI can exit 2 with all of
// them at once and tests can check them as data.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { LoadOptions } from './engine.ts';
import { LOCAL_SERVICE, PORT_FORWARD } from './preflight.ts';
import { parseSlo, type Slo } from './slo.ts';

// The CLI's options embed the engine's; re-exported for callers that build both.
export type { LoadOptions };

export interface ArgError {
  flag: string;
  message: string;
}

/** Everything the CLI needs besides the engine options. */
export interface CliOptions {
  load: LoadOptions;
  url: string;
  /** Tried when nothing listens at `url`: set only when --url was not given. */
  fallbackUrl: string | null;
  warmupMs: number;
  warmupRequests: number;
  buckets: readonly number[];
  json: boolean;
  out: string | null;
  /** --report: the self-contained HTML report's file (optional so hand-built options need not name it). */
  report?: string | null;
  quiet: boolean;
  slos: readonly Slo[];
  verifyTraces: string | null;
  verifyWaitMs: number;
}

export const DEFAULTS = Object.freeze({
  url: 'http://localhost:9002', // the guide's kubectl port-forward
  fallbackUrl: LOCAL_SERVICE, // `npm start`, used when nothing listens at the default and it answers /health
  endpoint: '/predict',
  requests: 100,
  concurrency: 10,
  timeoutMs: 10_000, // 10 s, from the actual send
  features: [0.5, 1.5, 2.0],
  buckets: [50, 100, 150, 200, 250], // ms, the guide's Test 7 histogram
  verifyWaitMs: 6_000, // a bit more than the 5 s schedule delay of the service's batch span processor
});

export const USAGE = `Usage: load [options]

Generates HTTP load against the inference service and reports latency, errors and trace delivery.

  --url URL              service base URL (default ${DEFAULTS.url}, the guide's port-forward; when nothing
                         listens there and ${DEFAULTS.fallbackUrl}/health answers (npm start), that is used).
                         Repeatable: several replicas, taken round robin per request; a connection refused
                         before anything was sent is resent to another one
  --targets FILE         more target URLs, one per line (blank lines and # comments ignored)
  --endpoint PATH        request path (default ${DEFAULTS.endpoint})
  --requests N           total requests to send (default ${DEFAULTS.requests})
  --duration D           run for a duration instead (30s, 500ms, 2m)
  --rate R               TOTAL target rate in req/s across all connections (open model: request i is
                         scheduled at start + i/R; latency counts from that scheduled time). The Python
                         guide calls it "per worker", but its numbers are a total.
                         Without --rate: closed model, --concurrency workers back to back.
  --concurrency C        max requests in flight / workers (default ${DEFAULTS.concurrency})
  --warmup W             warm-up before measuring, discarded: a duration (5s) or a request count (50)
  --timeout D            per-request timeout from the send (default 10s)
  --method M             GET or POST (default POST)
  --features A,B,C       request body {"features":[A,B,C]} (default ${DEFAULTS.features.join(',')})
  --body FILE            request body from a JSON file
  --buckets A,B,...      histogram bucket edges in ms (default ${DEFAULTS.buckets.join(',')})
  --propagate            send a W3C traceparent per request (ids known even when requests fail)
  --verify-traces URL    ask the OTLP receiver (its OTLP/HTTP address, e.g. http://localhost:4318)
                         which trace ids it received
  --verify-wait D        wait before asking (default 6s, past the 5 s span batch delay)
  --slo EXPR             e.g. "p99<200ms", "errors<1%", "rate>=45"; repeatable; exit 1 on violation
  --json                 print one JSON summary on stdout instead of text
  --out FILE             also write the JSON summary to FILE
  --report FILE          also write an HTML report (charts, verdict, audit) to FILE; opens offline
  --quiet                no progress display
  -h, --help             this help

Nothing listening at the URL (at any of the URLs) stops the run before it starts. Start the service with \`npm start\`, or pass
--url ${DEFAULTS.fallbackUrl}, or run the guide's port-forward: ${PORT_FORWARD}

Exit codes: 0 ok, 1 an SLO was violated, 2 bad arguments, 3 nothing listens at the URL or no request was answered.`;

type RawValues = Record<string, string | boolean | string[] | undefined>;

const FLAGS = {
  url: { type: 'string', multiple: true },
  targets: { type: 'string' },
  endpoint: { type: 'string' },
  requests: { type: 'string', short: 'n' },
  duration: { type: 'string', short: 'd' },
  rate: { type: 'string', short: 'r' },
  concurrency: { type: 'string', short: 'c' },
  warmup: { type: 'string' },
  timeout: { type: 'string' },
  method: { type: 'string' },
  features: { type: 'string' },
  body: { type: 'string' },
  buckets: { type: 'string' },
  propagate: { type: 'boolean' },
  'verify-traces': { type: 'string' },
  'verify-wait': { type: 'string' },
  slo: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  out: { type: 'string' },
  report: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface Parsed {
  values: RawValues;
  help: boolean;
  errors: ArgError[];
}

/** Splits argv into flag values; unknown flags and missing values become errors naming the flag. */
export function parse(argv: readonly string[]): Parsed {
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: true });
    const errors: ArgError[] = positionals.map((p) => ({ flag: p, message: `unexpected argument ${JSON.stringify(p)}` }));
    return { values: values as RawValues, help: values.help === true, errors };
  } catch (err) {
    const message = (err as Error).message;
    const flag = /'(-{1,2}[\w-]+)/.exec(message)?.[1] ?? 'arguments';
    return { values: {}, help: false, errors: [{ flag, message: message.split('\n')[0] ?? message }] };
  }
}

/** Parses "30s", "500ms", "2m", "1h" or a bare number of seconds into milliseconds; NaN when malformed. */
export function parseDuration(raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(us|µs|ms|s|m|h)?\s*$/.exec(raw);
  if (!m) return Number.NaN;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const scale: Record<string, number> = { us: 1e-3, µs: 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };
  return n * (scale[unit] ?? Number.NaN);
}

function parseUrl(raw: string): URL | null {
  try {
    const u = new URL(raw);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u : null;
  } catch {
    return null;
  }
}

/** The URL used without --url, and the one tried when nothing listens there (tests point both at their servers). */
export interface UrlDefaults {
  url: string;
  fallbackUrl: string | null;
}

/** Turns parsed flag values into options, collecting every problem instead of stopping at the first. */
export function validate(
  values: RawValues,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
  defaults: UrlDefaults = DEFAULTS,
): {
  options: CliOptions | null;
  errors: ArgError[];
} {
  const errors: ArgError[] = [];
  const fail = (flag: string, message: string): void => void errors.push({ flag, message: `${flag} ${message}` });
  const str = (name: string): string | undefined => {
    const v = values[name];
    return typeof v === 'string' ? v : undefined;
  };
  const positiveNumber = (name: string, integer: boolean): number | null => {
    const raw = str(name);
    if (raw === undefined) return null;
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
      fail(`--${name}`, `must be a positive ${integer ? 'integer' : 'number'} (got ${JSON.stringify(raw)})`);
      return null;
    }
    return n;
  };
  const duration = (name: string): number | null => {
    const raw = str(name);
    if (raw === undefined) return null;
    const ms = parseDuration(raw);
    if (!Number.isFinite(ms) || ms <= 0) {
      fail(`--${name}`, `must be a duration such as 30s, 500ms or 2m (got ${JSON.stringify(raw)})`);
      return null;
    }
    return ms;
  };

  const urlFlags = Array.isArray(values.url) ? values.url : typeof values.url === 'string' ? [values.url] : [];
  const targetsFile = str('targets');
  const listed: { flag: string; raw: string }[] = urlFlags.map((raw) => ({ flag: '--url', raw }));
  if (targetsFile !== undefined) {
    try {
      for (const line of readFile(targetsFile).split('\n')) {
        const raw = line.replace(/#.*/, '').trim();
        if (raw !== '') listed.push({ flag: '--targets', raw });
      }
      if (!listed.some((l) => l.flag === '--targets')) fail('--targets', `names a file with no URL (${targetsFile})`);
    } catch (err) {
      fail('--targets', `must name a readable file of URLs, one per line (${targetsFile}: ${(err as Error).message})`);
    }
  }
  if (listed.length === 0) listed.push({ flag: '--url', raw: defaults.url });
  const rawUrl = listed[0]!.raw;
  const endpointFlag = str('endpoint');
  if (endpointFlag !== undefined && !endpointFlag.startsWith('/')) {
    fail('--endpoint', `must start with / (got ${JSON.stringify(endpointFlag)})`);
  }
  // A URL that already names a path (http://host/predict) is used as it is unless --endpoint says otherwise.
  const targets: string[] = [];
  for (const { flag, raw } of listed) {
    const base = parseUrl(raw);
    if (!base) {
      fail(flag, `must be an http:// or https:// URL (got ${JSON.stringify(raw)})`);
      continue;
    }
    const path = endpointFlag ?? (base.pathname !== '/' ? base.pathname + base.search : DEFAULTS.endpoint);
    const target = base.origin + path;
    if (targets.includes(target)) fail(flag, `names ${target} twice`);
    else targets.push(target);
  }
  const target = targets[0] ?? '';

  const requestsFlag = positiveNumber('requests', true);
  const durationMs = duration('duration');
  if (str('requests') !== undefined && str('duration') !== undefined) {
    fail('--duration', 'cannot be combined with --requests: choose one way to end the run');
  }
  const rate = positiveNumber('rate', false);
  const concurrency = positiveNumber('concurrency', true) ?? DEFAULTS.concurrency;
  const timeoutMs = duration('timeout') ?? DEFAULTS.timeoutMs;

  let warmupMs = 0;
  let warmupRequests = 0;
  const warmup = str('warmup');
  if (warmup !== undefined) {
    if (/^\s*\d+\s*$/.test(warmup)) warmupRequests = Number(warmup);
    else {
      warmupMs = parseDuration(warmup);
      if (!Number.isFinite(warmupMs) || warmupMs < 0) {
        fail('--warmup', `must be a duration (5s) or a request count (50) (got ${JSON.stringify(warmup)})`);
        warmupMs = 0;
      }
    }
  }

  const methodRaw = (str('method') ?? 'POST').toUpperCase();
  if (methodRaw !== 'GET' && methodRaw !== 'POST') fail('--method', `must be GET or POST (got ${JSON.stringify(methodRaw)})`);
  const method = methodRaw === 'GET' ? 'GET' : 'POST';

  let body: string | null = JSON.stringify({ features: DEFAULTS.features });
  const features = str('features');
  const bodyFile = str('body');
  if (features !== undefined && bodyFile !== undefined) fail('--body', 'cannot be combined with --features');
  if (features !== undefined) {
    const nums = features.split(',').map((s) => Number(s.trim()));
    if (features.trim() === '' || nums.some((n) => !Number.isFinite(n))) {
      fail('--features', `must be comma-separated numbers such as 1,2,3 (got ${JSON.stringify(features)})`);
    } else body = JSON.stringify({ features: nums });
  }
  if (bodyFile !== undefined) {
    try {
      const text = readFile(bodyFile);
      JSON.parse(text);
      body = text;
    } catch (err) {
      fail('--body', `must name a readable JSON file (${bodyFile}: ${(err as Error).message})`);
    }
  }
  if (method === 'GET') body = null;

  let buckets: number[] = [...DEFAULTS.buckets];
  const bucketsRaw = str('buckets');
  if (bucketsRaw !== undefined) {
    const nums = bucketsRaw.split(',').map((s) => Number(s.trim()));
    const increasing = nums.every((n, i) => i === 0 || n > (nums[i - 1] ?? 0));
    if (bucketsRaw.trim() === '' || nums.some((n) => !Number.isFinite(n) || n <= 0) || !increasing) {
      fail('--buckets', `must be increasing positive millisecond edges such as 50,100,150 (got ${JSON.stringify(bucketsRaw)})`);
    } else buckets = nums;
  }

  const slos: Slo[] = [];
  const sloRaw = values.slo;
  for (const expr of Array.isArray(sloRaw) ? sloRaw : []) {
    const r = parseSlo(expr);
    if ('error' in r) fail('--slo', r.error);
    else slos.push(r.slo);
  }

  const verifyRaw = str('verify-traces');
  let verifyTraces: string | null = null;
  if (verifyRaw !== undefined) {
    const u = parseUrl(verifyRaw);
    if (!u) fail('--verify-traces', `must be the receiver's http:// OTLP/HTTP URL (got ${JSON.stringify(verifyRaw)})`);
    else verifyTraces = u.origin;
  }
  const verifyWaitRaw = str('verify-wait');
  let verifyWaitMs: number = DEFAULTS.verifyWaitMs;
  if (verifyWaitRaw !== undefined) {
    verifyWaitMs = parseDuration(verifyWaitRaw);
    if (!Number.isFinite(verifyWaitMs) || verifyWaitMs < 0) {
      fail('--verify-wait', `must be a duration such as 6s (got ${JSON.stringify(verifyWaitRaw)})`);
    }
  }

  const out = str('out') ?? null;
  if (out !== null && out.trim() === '') fail('--out', 'must name a file');
  const report = str('report') ?? null;
  if (report !== null && report.trim() === '') fail('--report', 'must name a file');

  if (errors.length > 0) return { options: null, errors };
  const load: LoadOptions = Object.freeze({
    target,
    ...(targets.length > 1 ? { targets: Object.freeze(targets) } : {}),
    method,
    body,
    requests: durationMs === null ? (requestsFlag ?? DEFAULTS.requests) : null,
    durationMs,
    rate,
    concurrency,
    timeoutMs,
    propagate: values.propagate === true,
  });
  const options: CliOptions = Object.freeze({
    load,
    url: rawUrl,
    fallbackUrl: urlFlags.length === 0 && targetsFile === undefined ? defaults.fallbackUrl : null,
    warmupMs,
    warmupRequests,
    buckets: Object.freeze(buckets),
    json: values.json === true,
    out,
    report,
    quiet: values.quiet === true,
    slos: Object.freeze(slos),
    verifyTraces,
    verifyWaitMs,
  });
  return { options, errors };
}

/** parse + validate in one call. */
export function parseCli(
  argv: readonly string[],
  defaults: UrlDefaults = DEFAULTS,
): { options: CliOptions | null; help: boolean; errors: ArgError[] } {
  const parsed = parse(argv);
  if (parsed.errors.length > 0) return { options: null, help: false, errors: parsed.errors };
  if (parsed.help) return { options: null, help: true, errors: [] };
  const { options, errors } = validate(parsed.values, undefined, defaults);
  return { options, help: false, errors };
}
