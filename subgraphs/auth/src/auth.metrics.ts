import { Counter, type Registry } from '../../../lib/metrics.js';

/** Why a login failed; the `reason` label of `auth_login_failures_total`. */
export type LoginFailureReason = 'invalid_credentials' | 'throttled' | 'no_membership' | 'oidc_failed';

/** Sign-in methods; the `method` label of `auth_logins_total`. */
export type LoginMethod = 'password' | 'register' | 'oidc' | 'refresh' | 'switch_tenant';

/** Domain metrics of the auth service. */
export interface AuthMetrics {
  loginFailures: Counter<'reason'>;
  logins: Counter<'method'>;
  /** Refusals by limit: register_ip, login_pair, login_ip, login_account_delay. */
  limitRefusals: Counter<'limit'>;
}

/** Registers auth's counters on the service's registry. */
export function createAuthMetrics(registry: Registry): AuthMetrics {
  return {
    loginFailures: new Counter({
      name: 'auth_login_failures_total',
      help: 'Failed sign-in attempts, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    logins: new Counter({
      name: 'auth_logins_total',
      help: 'Access tokens issued, by how the caller signed in (password, register, oidc, refresh, switch_tenant)',
      labelNames: ['method'],
      registers: [registry],
    }),
    limitRefusals: new Counter({
      name: 'auth_limit_refusals_total',
      help: 'Requests refused by a limit (register_ip, login_pair, login_ip, login_account_delay)',
      labelNames: ['limit'],
      registers: [registry],
    }),
  };
}
