// In-process tests of the app: the app's spans reach a test's own provider through the global API, and an
// AsyncLocalStorage context manager makes child spans find their parent across awaits.
import { after, before } from 'node:test';
import { context, trace, type TracerProvider } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';

/** Makes `provider` and a context manager the globals for this test file's tests, and removes both after them. */
export function useGlobalTracing(provider: TracerProvider): void {
  const contextManager = new AsyncLocalStorageContextManager();
  before(() => {
    context.setGlobalContextManager(contextManager.enable());
    trace.setGlobalTracerProvider(provider);
  });
  after(() => {
    trace.disable();
    context.disable();
  });
}
