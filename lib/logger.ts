import { pino, type Logger } from 'pino';
import type { Config } from './config.js';
import { traceFields, tracingEnabled } from './telemetry.js';

export type { Logger } from 'pino';

/** Paths never written to logs, whatever logs them. */
const REDACT = [
  'password',
  '*.password',
  'token',
  '*.token',
  'accessToken',
  '*.accessToken',
  'refreshToken',
  '*.refreshToken',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-service-token"]',
  'secret',
  '*.secret',
  'serviceToken',
];

/**
 * JSON logger for one service. Secrets are redacted by path; the request id travels in child loggers.
 * With tracing on (lib/telemetry), a line written inside a span carries its `trace_id` and `span_id`.
 * @param service service name, added to every line
 */
export function createLogger(config: Pick<Config, 'LOG_LEVEL'>, service: string): Logger {
  return pino({
    level: config.LOG_LEVEL,
    base: { service },
    redact: { paths: REDACT, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...(tracingEnabled() ? { mixin: traceFields } : {}),
  });
}
