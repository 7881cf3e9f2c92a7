// The instrumentation scope of everything the service emits. Kept apart from telemetry.ts because that module
// creates instruments at load time and must therefore load after the SDK has started (the metrics API has no
// proxy: a meter taken before the SDK is registered stays a no-op), while the bootstrap needs the name earlier.
import packageJson from '../../package.json' with { type: 'json' };

export const SCOPE_NAME = 'ai-inference-service';
export const SCOPE_VERSION: string = packageJson.version;
