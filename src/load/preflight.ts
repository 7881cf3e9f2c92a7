// Before the run: does anything listen at the target? A run in which every connection is refused measures nothing,
// so the CLI stops with one line that says what to do instead of printing a report. Without --url the guide's
// port-forward (localhost:9002) is tried first and, when nothing listens there, the `npm start` service (localhost:9000).
import { connect } from 'node:net';
import { Client } from 'undici';

/** The guide's port-forward, as kubectl prints it; named in the hint because it is what makes :9002 answer. */
export const PORT_FORWARD = 'kubectl port-forward -n ai-ml-lab-2-2 svc/ai-lab-2-2-paid 9002:9000';
export const LOCAL_SERVICE = 'http://localhost:9000'; // where `npm start` listens

export const HINT = `Start the service with \`npm start\`, or pass --url ${LOCAL_SERVICE}, or run the guide's port-forward: ${PORT_FORWARD}`;

export type Reach = { ok: true } | { ok: false; refused: boolean; reason: string };

function isRefused(err: Error & { code?: string; errors?: Array<{ code?: string }> }): boolean {
  // With several addresses for one name (localhost: ::1 and 127.0.0.1) Node reports an AggregateError.
  if (err.code === 'ECONNREFUSED') return true;
  return Array.isArray(err.errors) && err.errors.length > 0 && err.errors.every((e) => e.code === 'ECONNREFUSED');
}

/** Opens and closes one TCP connection to the URL's host and port; sends no HTTP request, so the service counts nothing. */
export function probe(url: string, timeoutMs: number): Promise<Reach> {
  const u = new URL(url);
  const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (reach: Reach): void => {
      socket.destroy();
      resolve(reach);
    };
    socket.setTimeout(timeoutMs, () => done({ ok: false, refused: false, reason: `no connection within ${timeoutMs / 1000}s` }));
    socket.once('connect', () => done({ ok: true }));
    socket.once('error', (err: Error & { code?: string }) =>
      done({ ok: false, refused: isRefused(err), reason: isRefused(err) ? 'connection refused' : (err.code ?? err.message) }),
    );
  });
}

/** True when GET <origin>/health answers 2xx within the timeout. */
export async function answersHealth(origin: string, timeoutMs: number): Promise<boolean> {
  const client = new Client(origin, { connectTimeout: timeoutMs, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  try {
    const res = await client.request({ path: '/health', method: 'GET', signal: AbortSignal.timeout(timeoutMs) });
    await res.body.dump();
    return res.statusCode >= 200 && res.statusCode < 300;
  } catch {
    return false;
  } finally {
    await client.close().catch(() => undefined);
  }
}

export type Choice = { target: string; notice: string | null } | { error: string };

/**
 * The target to load: `target` when something listens there; else, when `fallback` is given (no --url) and it
 * answers /health, the same path on the fallback's origin with a notice saying so; else one error line.
 */
export async function chooseTarget(target: string, fallback: string | null, timeoutMs: number): Promise<Choice> {
  const origin = new URL(target).origin;
  const reach = await probe(target, timeoutMs);
  if (reach.ok) return { target, notice: null };
  if (!reach.refused) return { error: `cannot connect to ${origin} (${reach.reason}). Check the URL. ${HINT}` };
  if (fallback === null) return { error: `nothing listens at ${origin} (connection refused). ${HINT}` };
  const alternative = new URL(fallback).origin;
  if (await answersHealth(alternative, Math.min(timeoutMs, 2_000))) {
    const u = new URL(target);
    return {
      target: alternative + u.pathname + u.search,
      notice: `Using ${alternative}, which answers /health (\`npm start\`): nothing listens at ${origin} (the guide's port-forward). Pass --url to choose.`,
    };
  }
  return { error: `nothing listens at ${origin} (connection refused), and ${alternative}/health does not answer either. ${HINT}` };
}

/**
 * Several targets: one probe each, at once. One line per target that does not answer; an error only when none does.
 * Dead targets stay in the rotation: they are backed off and tried again, as a replica being replaced comes back.
 */
export async function checkTargets(targets: readonly string[], timeoutMs: number): Promise<{ notices: string[]; error: string | null }> {
  const reaches = await Promise.all(targets.map((t) => probe(t, timeoutMs)));
  const notices: string[] = [];
  reaches.forEach((reach, i) => {
    if (!reach.ok) notices.push(`${new URL(targets[i] as string).origin} does not answer (${reach.reason}): its share goes to the other targets until it does`);
  });
  if (notices.length < targets.length) return { notices, error: null };
  return { notices, error: `none of the ${targets.length} targets answers (${reaches.map((r) => (r.ok ? 'ok' : r.reason)).join(', ')}). ${HINT}` };
}
