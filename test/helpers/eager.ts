// Eager-pipeline options for tests: small batches cut quickly, short timeouts, warnings dropped.
import type { EagerOptions } from '../../src/telemetry/eager-export.ts';

export const eagerOptions = (over: Partial<EagerOptions> = {}): EagerOptions => ({
  batch: { scheduleDelayMs: 50, exportTimeoutMs: 5000, maxQueueSize: 1000, maxExportBatchSize: 100 },
  concurrency: 2,
  timeoutMs: 2000,
  retryMs: 30_000,
  shutdownMs: 5_000,
  warn: () => {},
  ...over,
});
