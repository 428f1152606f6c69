/**
 * The auth service's own settings: its signing keys and token lifetime, passwords and argon2,
 * sign-in and registration throttles, and OIDC. What verifiers also read (JWT_ISSUER, JWT_AUDIENCE,
 * JWKS_URL, SERVICE_TOKEN) stays in the kernel. Validated with it by `loadConfig(env, authConfig)`.
 */
import path from 'node:path';
import { z } from 'zod';
import {
  bool,
  configSection,
  loadConfig,
  positiveInt,
  PROJECT_ROOT,
  type ConfigWith,
} from '../../../lib/config.js';

/** Where the signing keys live unless JWT_KEYS_DIR says otherwise. */
export const DEFAULT_JWT_KEYS_DIR = path.join(PROJECT_ROOT, 'keys', 'jwt');

/** Registrations per client IP per REGISTER_THROTTLE_WINDOW_SECONDS unless set. */
export const REGISTER_THROTTLE_PER_IP_DEFAULT = 10;

export const authConfig = configSection(
  {
    /** Folder of the Ed25519 signing keys (one file per kid); verifiers read the JWKS instead. */
    JWT_KEYS_DIR: z.string().default(DEFAULT_JWT_KEYS_DIR),
    ACCESS_TOKEN_TTL_SECONDS: positiveInt.default(900),
    LOGIN_THROTTLE_WINDOW_SECONDS: positiveInt.default(900),
    LOGIN_THROTTLE_PER_ACCOUNT: positiveInt.default(5),
    LOGIN_THROTTLE_PER_IP: positiveInt.default(50),
    PASSWORD_MIN_LENGTH: positiveInt.default(10),
    /** argon2id cost (OWASP: 19 MiB, 2 passes, 1 lane); tests may lower it to stay fast. */
    ARGON2_MEMORY_KIB: z.coerce.number().int().min(1024).default(19_456),
    ARGON2_TIME_COST: positiveInt.default(2),
    ARGON2_PARALLELISM: positiveInt.default(1),
    /**
     * argon2 computations at once per auth process (the rest wait their turn), so sign-ups and
     * sign-ins cannot take every core from the other services; beyond the queue, RATE_LIMITED.
     */
    ARGON2_CONCURRENCY: positiveInt.default(1),
    ARGON2_QUEUE_MAX: positiveInt.default(64),
    /** Registrations per client IP per window (auth's `register`), before RATE_LIMITED. */
    REGISTER_THROTTLE_PER_IP: positiveInt.default(REGISTER_THROTTLE_PER_IP_DEFAULT),
    REGISTER_THROTTLE_WINDOW_SECONDS: positiveInt.default(3600),
    /** Failed logins per (account, client IP) pair per LOGIN_THROTTLE_WINDOW_SECONDS before that pair is locked. */
    LOGIN_THROTTLE_PER_ACCOUNT_IP: positiveInt.default(5),
    /** Longest account-wide delay between attempts from sources that already failed on the account. */
    LOGIN_DELAY_MAX_SECONDS: positiveInt.default(60),

    OIDC_ISSUER: z.url().optional(),
    OIDC_CLIENT_ID: z.string().optional(),
    OIDC_CLIENT_SECRET: z.string().optional(),
    OIDC_REDIRECT_URI: z.url().optional(),
    OIDC_SCOPES: z.string().default('openid email profile'),
    /** Allow plain-HTTP OIDC issuers (development and tests on loopback only). */
    OIDC_ALLOW_INSECURE: bool.default(false),
  },
  {
    check(c, ctx) {
      if (c.OIDC_ISSUER && !(c.OIDC_CLIENT_ID && c.OIDC_REDIRECT_URI)) {
        ctx.addIssue({
          code: 'custom',
          path: ['OIDC_CLIENT_ID'],
          message: 'OIDC_CLIENT_ID and OIDC_REDIRECT_URI are required when OIDC_ISSUER is set',
        });
      }
    },
  },
);

/** The kernel and the auth section. */
export type AuthConfig = ConfigWith<[typeof authConfig]>;

/** Validates the kernel and the auth section (default: the process environment). */
export function loadAuthConfig(env?: Record<string, string | undefined>): AuthConfig {
  return loadConfig(env, authConfig);
}
