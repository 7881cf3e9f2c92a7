// What buildApp is handed in tests that drive the app without the bootstrap: the API's tracer and meter (no-ops
// unless a test registers an SDK) and a silent logger.
import { metrics, trace } from '@opentelemetry/api';
import type { AppDeps } from '../../src/service/app.ts';
import { createInstruments, SCOPE, tracerSpans } from '../../src/telemetry/catalogue.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import type { TelemetryStatus } from '../../src/telemetry/sdk.ts';

const OFF = { exporter: 'none', protocol: null, endpoint: 'nowhere', path: 'none' } as const;

export const TELEMETRY_OFF: TelemetryStatus = {
  tracingEnabled: false,
  metricsEnabled: false,
  logsEnabled: false,
  routes: { traces: OFF, metrics: OFF, logs: OFF },
  stats: () => ({}),
};

export function appDeps(overrides: Partial<AppDeps> = {}): AppDeps {
  return {
    logger: createLogger({ level: 'silent', exportLogs: false, destination: { write() {} } }),
    telemetry: TELEMETRY_OFF,
    spans: tracerSpans(trace.getTracer(SCOPE.name, SCOPE.version)),
    instruments: createInstruments(metrics.getMeter(SCOPE.name, SCOPE.version)),
    ...overrides,
  };
}
