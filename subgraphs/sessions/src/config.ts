/**
 * The sessions service's own settings: session lifetimes, the per-user cap and activity records.
 * What the gateway and other verifiers also read (SESSION_CACHE_SECONDS, SERVICE_TOKEN) stays in the
 * kernel. Validated with it by `loadConfig(env, sessionsConfig)`.
 */
import { configSection, loadConfig, positiveInt, type ConfigWith } from '../../../lib/config.js';

export const sessionsConfig = configSection({
  /** Sliding lifetime of a session: every use pushes it out (30 days). */
  SESSION_TTL_SECONDS: positiveInt.default(30 * 24 * 3600),
  /** Hard end of a session however often it is refreshed (90 days). */
  SESSION_ABSOLUTE_TTL_SECONDS: positiveInt.default(90 * 24 * 3600),
  /** Live sessions per user; opening one more revokes the least recently active. */
  SESSIONS_MAX_PER_USER: positiveInt.default(50),
  /** A session's lastActiveAt (and TTL) is rewritten at most this often, to avoid a write per request. */
  SESSION_TOUCH_INTERVAL_SECONDS: positiveInt.default(60),
  /** Activity events kept per session (newest first). */
  SESSION_EVENTS_MAX: positiveInt.default(50),
});

/** The kernel and the sessions section. */
export type SessionsConfig = ConfigWith<[typeof sessionsConfig]>;

/** Validates the kernel and the sessions section (default: the process environment). */
export function loadSessionsConfig(env?: Record<string, string | undefined>): SessionsConfig {
  return loadConfig(env, sessionsConfig);
}
