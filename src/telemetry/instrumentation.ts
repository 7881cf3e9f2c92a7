// The OpenTelemetry bootstrap, loaded before the app with `node --import ./dist/telemetry/instrumentation.js`
// (`npm start`). It parses the configuration (exiting with one line naming the variable on a bad value), decides
// the export plan, starts the SDK as planned and logs what it did. The entry point (service/main.ts) imports what
// this module exports: the same module instance, so the SDK is started once.
import packageJson from '../../package.json' with { type: 'json' };
import { ConfigError, loadEnvironment, parseConfig, type Config } from '../shared/config.ts';
import { describePlan, planExport } from './plan.ts';
import { startTelemetry, type Telemetry } from './sdk.ts';

function configOrExit(): Config {
  try {
    return parseConfig(loadEnvironment(), packageJson.version);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`Invalid configuration: ${err.message}\n`);
    process.exit(2);
  }
}

export const config = configOrExit();
export const telemetry: Telemetry = startTelemetry(config, planExport(config));

// What the guide's Step 11 shows at start-up, then the plan: where each signal goes, by which path, and why.
const { logger, plan, status } = telemetry;
const t = config.telemetry;
logger.info(t.disabled ? 'OpenTelemetry SDK disabled (OTEL_SDK_DISABLED=true)' : 'OpenTelemetry SDK initialized');
logger.info(`Exporter configured: ${t.traces.exporter} (protocol ${t.traces.protocol})`);
logger.info(`OTLP endpoint: ${t.collectorEndpoint}`);
for (const line of describePlan(plan)) logger.info(`Export plan: ${line}`);
try {
  const metricsUrl = await telemetry.ready;
  if (metricsUrl !== undefined) logger.info(`Prometheus metrics: ${metricsUrl} (OTEL_METRICS_EXPORTER lists prometheus)`);
} catch (err) {
  const where = `${t.metrics.prometheus?.host}:${t.metrics.prometheus?.port}`;
  process.stderr.write(`Cannot serve Prometheus metrics on ${where} (OTEL_EXPORTER_PROMETHEUS_HOST/_PORT): ${(err as Error).message}\n`);
  process.exit(2);
}
logger.info(`Service name: ${t.serviceName}`);
logger.info(`Tracing enabled: ${status.tracingEnabled ? 'True' : 'False'}`);
logger.info(`Metrics enabled: ${status.metricsEnabled ? 'True' : 'False'}`);
logger.info(`Logs exported: ${status.logsEnabled ? 'True' : 'False'}`);
