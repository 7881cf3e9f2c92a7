// The thin CLI: parse -> validate -> check the target listens -> run (engine events drive the progress display)
// -> aggregate -> print.
// Exit codes: 0 ok, 1 an SLO was violated, 2 bad arguments, 3 nothing listens at the URL (at none of the URLs) or no
// request was answered.
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { aggregate } from './aggregate.ts';
import { DEFAULTS, USAGE, parseCli, type CliOptions, type LoadOptions, type UrlDefaults } from './args.ts';
import { LoadRun, closeConnections, createConnections } from './engine.ts';
import {
  formatConfiguration,
  formatJson,
  formatProgressBar,
  formatProgressDone,
  formatProgressLine,
  formatResults,
  formatUnanswered,
  formatViolations,
} from './print.ts';
import { checkTargets, chooseTarget } from './preflight.ts';
import { renderReport } from './report.ts';
import { uniqueIds, verifyTraces, type Delivery } from './trace-audit.ts';

export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

const PLAIN_PROGRESS_EVERY_MS = 1_000;

function warmupOptions(cli: CliOptions): LoadOptions | null {
  if (cli.warmupMs <= 0 && cli.warmupRequests <= 0) return null;
  return {
    ...cli.load,
    requests: cli.warmupRequests > 0 ? cli.warmupRequests : null,
    durationMs: cli.warmupRequests > 0 ? null : cli.warmupMs,
  };
}

/** The CLI's options aimed at another target (the fallback chosen when nothing listens at the default). */
function withTarget(cli: CliOptions, target: string): CliOptions {
  return Object.freeze({ ...cli, url: new URL(target).origin, load: Object.freeze({ ...cli.load, target }) });
}

export async function main(argv: readonly string[], io: Io = process, defaults: UrlDefaults = DEFAULTS): Promise<number> {
  const parsed = parseCli(argv, defaults);
  const { help, errors } = parsed;
  let cli = parsed.options;
  if (help) {
    io.stdout.write(USAGE + '\n');
    return 0;
  }
  if (errors.length > 0 || cli === null) {
    for (const e of errors) io.stderr.write(`load: ${e.message}\n`);
    io.stderr.write('Run with --help for usage.\n');
    return 2;
  }

  // Text goes to stdout; with --json, stdout carries only the JSON and the progress display moves to stderr.
  const report = cli.json ? io.stderr : io.stdout;
  const tty = report.isTTY === true;
  if (cli.load.targets !== undefined && cli.load.targets.length > 1) {
    const check = await checkTargets(cli.load.targets, Math.min(cli.load.timeoutMs, 10_000));
    for (const line of check.notices) io.stderr.write(`load: ${line}\n`);
    if (check.error !== null) {
      io.stderr.write(`load: ${check.error}\n`);
      return 3;
    }
  } else {
    const choice = await chooseTarget(cli.load.target, cli.fallbackUrl, Math.min(cli.load.timeoutMs, 10_000));
    if ('error' in choice) {
      io.stderr.write(`load: ${choice.error}\n`);
      return 3;
    }
    if (choice.notice !== null) {
      report.write(choice.notice + '\n');
      cli = withTarget(cli, choice.target);
    }
  }
  if (!cli.json) io.stdout.write(formatConfiguration(cli));

  const connections = createConnections(cli.load);
  let current: LoadRun | null = null;
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    report.write('\nInterrupted: finishing the requests in flight (Ctrl-C again to quit now)\n');
    current?.stop();
  };
  process.on('SIGINT', onSigint);
  try {
    const warm = warmupOptions(cli);
    if (warm !== null) {
      if (!cli.quiet) report.write('Warming up (not measured)...\n');
      current = new LoadRun(warm, connections).start();
      await current.result;
      if (interrupts > 0) return 130;
    }

    current = new LoadRun(cli.load, connections);
    let lastPlain = 0;
    if (!cli.quiet) {
      current.on('progress', (p) => {
        if (tty) report.write(`\r${formatProgressBar(p)}\x1b[K`);
        else if (p.elapsedMs - lastPlain >= PLAIN_PROGRESS_EVERY_MS) {
          lastPlain = p.elapsedMs;
          report.write(formatProgressLine(p) + '\n');
        }
      });
    }
    current.start();
    const run = await current.result;
    if (!cli.quiet) report.write(`${tty ? '\r' : ''}${formatProgressDone(current.snapshot())}${tty ? '\x1b[K' : ''}\n\n`);
    else if (!cli.json) io.stdout.write('\n');

    let delivery: Delivery | null = null;
    if (cli.verifyTraces !== null) {
      const ids = uniqueIds(run.traces);
      if (!cli.quiet) report.write(`Waiting ${cli.verifyWaitMs / 1000}s for spans to be exported, then asking ${cli.verifyTraces} about ${ids.length} trace ids...\n\n`);
      await sleep(cli.verifyWaitMs);
      delivery = await verifyTraces(cli.verifyTraces, ids);
    }

    const summary = aggregate(run, cli, delivery);
    if (cli.json) io.stdout.write(formatJson(summary));
    else io.stdout.write(formatResults(summary));
    if (cli.out !== null) writeFileSync(cli.out, formatJson(summary));
    if (cli.report != null) {
      writeFileSync(cli.report, renderReport({ summary, run, cli, argv }));
      if (!cli.quiet) report.write(`HTML report written to ${cli.report}\n`);
    }
    const violations = formatViolations(summary);
    for (const v of violations) io.stderr.write(v + '\n');
    // A run that got no answer at all measured nothing about the service, whatever the objectives say.
    const unanswered = formatUnanswered(summary);
    if (unanswered !== null) {
      io.stderr.write(`load: ${unanswered}\n`);
      return 3;
    }
    return violations.length > 0 ? 1 : 0;
  } finally {
    process.off('SIGINT', onSigint);
    await closeConnections(connections);
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
