/**
 * Starts tracing for a process before its entry's imports load (with OTEL_EXPORTER_OTLP_ENDPOINT
 * set): registers the ESM loader hook the instrumentations patch through (an `import` of pg or
 * ioredis is not a `require`, so require hooks alone never see it) and starts lib/telemetry.ts.
 * Without an endpoint it does nothing. Only the OTEL_* variables are read here; an invalid one is
 * left to the entry, which reports every bad variable. It exports `ready` instead of awaiting at its
 * top level, so it can also be a CommonJS bundle (dist/telemetry.js awaits `ready`); from sources,
 * lib/telemetry.register.ts awaits it.
 */
import { register } from 'node:module';
import { loadTelemetryConfig } from './config.js';
import { defaultServiceName, INSTRUMENTED_MODULES, startTelemetry } from './telemetry.js';

async function start(): Promise<void> {
  const config = loadTelemetryConfig();
  if (config?.OTEL_EXPORTER_OTLP_ENDPOINT === undefined) return;
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, {
    data: { include: [...INSTRUMENTED_MODULES] },
  });
  const telemetry = await startTelemetry(config, defaultServiceName(process.argv[1]));
  // The batch processor's timer does not hold the process open: export what is left once the
  // entry's services stopped and the event loop ran dry.
  process.once('beforeExit', () => void telemetry?.shutdown().catch(() => undefined));
}

/** Settles once tracing started (at once without an endpoint); the entry must load after it. */
export const ready: Promise<void> = start();
