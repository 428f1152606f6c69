/**
 * Preloaded by every platform process started from its sources (`node --import tsx --import
 * ./lib/telemetry.register.ts <entry>`, see SERVICE_PRELOADS in scripts/platform.ts): starts tracing
 * (lib/telemetry.start.ts) and, by awaiting it at its top level, holds the entry back until it did.
 * From dist/, the launcher of lib/telemetry.start.ts's bundle does the waiting.
 */
import { ready } from './telemetry.start.js';

await ready;
