// Entry point: `npm start` (node --import ./dist/telemetry/instrumentation.js dist/service/main.js). Reads top to
// bottom: start the local OTLP receiver (a child process) when no Collector is configured, build the app with what
// the telemetry bootstrap made, listen, and drain cleanly on SIGTERM/SIGINT.
import { config, telemetry } from '../telemetry/instrumentation.ts';
import { buildApp } from './app.ts';
import { ReceiverStartError, startReceiverChild, type ReceiverChild } from './receiver-child.ts';

const { logger, shutdown: shutdownTelemetry } = telemetry;

// The receiver runs beside the service as a child process: its decoding, printing and console cost this one nothing.
let receiver: ReceiverChild | undefined;
if (config.telemetry.embeddedReceiver && !config.telemetry.disabled) {
  try {
    receiver = await startReceiverChild();
  } catch (err) {
    if (!(err instanceof ReceiverStartError)) throw err;
    // One line; nothing is listening, and the telemetry has nowhere of ours to go.
    logger.fatal(`Start-up failed: ${err.message}`);
    logger.flush(() => process.exit(1));
    await new Promise(() => {});
  }
  logger.info(
    `Local OTLP receiver listening: gRPC ${receiver!.grpcUrl}, HTTP ${receiver!.httpUrl}, health ${receiver!.healthUrl} (prints what it receives as the Collector's debug exporter)`,
  );
  for (const warning of receiver!.warnings) logger.warn(warning);
  receiver!.onUnexpectedExit((how) => logger.error(`Local OTLP receiver ${how}: telemetry export to it fails from now on`));
}

const { app, lifecycle, serving } = buildApp(config, { logger, telemetry: telemetry.status, spans: telemetry.spans, instruments: telemetry.instruments });
try {
  await app.ready(); // loads every model
} catch (err) {
  // One line naming the file (or the variable) that is wrong; nothing is listening yet.
  logger.fatal(`Start-up failed: ${(err as Error).message}`);
  await shutdownTelemetry();
  await receiver?.stop();
  logger.flush(() => process.exit(1));
  await new Promise(() => {});
}
if (serving.predictUnavailable !== undefined) logger.warn(`/predict is unavailable: ${serving.predictUnavailable}`);
for (const m of serving.models!.all) logger.info({ model_name: m.info.name, model_version: m.info.version, model_file: m.info.file }, `Model ${m.info.name} loaded`);
const address = await app.listen({ host: config.host, port: config.port });
lifecycle.ready = true;
logger.info('Application startup complete.');
logger.info({ url: address }, `Server running on ${address} (Press CTRL+C to quit)`);
// Last, so that it is the line a new user sees.
if (receiver?.consoleUrl) logger.info({ url: receiver.consoleUrl }, `Console: open ${receiver.consoleUrl} to see traces, metrics and logs`);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  const budgetMs = config.shutdown.delayMs + config.shutdown.timeoutMs;
  const deadline = setTimeout(() => {
    logger.error(`Shutdown took longer than SHUTDOWN_DELAY_MS + SHUTDOWN_TIMEOUT_MS=${budgetMs}; exiting`);
    process.exit(1);
  }, budgetMs);
  deadline.unref();
  // Readiness goes false at once; the listener stays open for SHUTDOWN_DELAY_MS so that Kubernetes removes the
  // pod from the Service endpoints before new connections would be refused. Every request is still served until
  // the deadline, answered with `Connection: close`: a kept-alive client moves to another pod after its next
  // answer instead of finding its connection closed under it when the listener closes.
  lifecycle.ready = false;
  lifecycle.deadline = Date.now() + budgetMs;
  lifecycle.closing = true;
  logger.info({ signal }, `Received ${signal}: draining (readiness false for ${config.shutdown.delayMs} ms)`);
  if (config.shutdown.delayMs > 0) await new Promise((r) => setTimeout(r, config.shutdown.delayMs));
  // close() closes the connections idle at that moment and waits for the others to finish their answer. A request
  // that began before SIGTERM was answered keep-alive and leaves its connection idle only later, so idle
  // connections are swept until the server has closed.
  const sweep = setInterval(() => app.server.closeIdleConnections(), 50);
  await app.close();
  clearInterval(sweep);
  await shutdownTelemetry(); // exports every span of the answered requests
  logger.info({ telemetry: telemetry.status.stats() }, 'Shutdown complete: requests drained');
  await receiver?.stop(); // after the flush, so that it prints every span
  // Exit explicitly: exporters' gRPC channels and client keep-alive sockets may still hold the event loop.
  logger.flush(() => process.exit(0));
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
