import { Counter, type Registry } from '../../../lib/metrics.js';

/** Domain metrics of the sessions service. */
export interface SessionsMetrics {
  opened: Counter<'method'>;
  revoked: Counter<'reason'>;
  reuseDetected: Counter;
}

/** Registers the session counters on the service's registry. */
export function createSessionsMetrics(registry: Registry): SessionsMetrics {
  return {
    opened: new Counter({
      name: 'sessions_opened_total',
      help: 'Sessions opened, by sign-in method',
      labelNames: ['method'],
      registers: [registry],
    }),
    revoked: new Counter({
      name: 'sessions_revoked_total',
      help: 'Sessions revoked, by reason (logout, user, user_all, reuse_detected, session_cap)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    reuseDetected: new Counter({
      name: 'refresh_reuse_detected_total',
      help: 'Superseded refresh tokens presented again (each revokes its session)',
      registers: [registry],
    }),
  };
}
