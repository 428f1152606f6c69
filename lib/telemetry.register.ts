/**
 * Preloaded by every platform process (`node --import tsx --import ./lib/telemetry.register.ts
 * <entry>`, see SERVICE_IMPORTS in scripts/platform.ts): with OTEL_EXPORTER_OTLP_ENDPOINT set, it
 * registers the ESM loader hook the instrumentations patch through (an `import` of pg or ioredis is
 * not a `require`, so require hooks alone never see it) and starts lib/telemetry.ts, all before the
 * entry's static imports load. Without an endpoint it does nothing. Only the OTEL_* variables are
 * read here; an invalid one is left to the entry, which reports every bad variable.
 */
import { register } from 'node:module';
import { loadTelemetryConfig } from './config.js';
import { defaultServiceName, INSTRUMENTED_MODULES, startTelemetry } from './telemetry.js';

const config = loadTelemetryConfig();
if (config?.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined) {
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, {
    data: { include: [...INSTRUMENTED_MODULES] },
  });
  const telemetry = await startTelemetry(config, defaultServiceName(process.argv[1]));
  // The batch processor's timer does not hold the process open: export what is left once the
  // entry's services stopped and the event loop ran dry.
  process.once('beforeExit', () => void telemetry?.shutdown().catch(() => undefined));
}
