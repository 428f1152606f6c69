/**
 * The one place that reads `process.env`. Every variable is validated here once,
 * every bad variable is reported in one error, and the result is a typed, frozen
 * object that factories receive explicitly (tests build their own with `loadConfig`).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** Root of the repository (lib/..). */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])
  .transform((v) => ['true', '1', 'yes', 'on'].includes(v));
const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const list = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0),
);

const schema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Interface services bind to; 0.0.0.0 inside containers. */
    BIND_HOST: z.string().default('127.0.0.1'),

    DATABASE_URL: z.url().default('postgres://tradesage_app@127.0.0.1:5432/tradesage'),
    DATABASE_OWNER_URL: z.url().default('postgres://tradesage_owner@127.0.0.1:5432/tradesage'),
    DATABASE_ADMIN_URL: z.url().default('postgres://postgres@127.0.0.1:5432/postgres'),
    DATABASE_APP_ROLE: z.string().regex(/^[a-z_][a-z0-9_]*$/).default('tradesage_app'),
    DATABASE_OWNER_ROLE: z.string().regex(/^[a-z_][a-z0-9_]*$/).default('tradesage_owner'),
    DATABASE_APP_PASSWORD: z.string().default(''),
    DATABASE_OWNER_PASSWORD: z.string().default(''),
    DB_POOL_MAX: positiveInt.default(10),
    DB_STATEMENT_TIMEOUT_MS: positiveInt.default(15_000),

    REDIS_URL: z.url().default('redis://127.0.0.1:6379'),
    REDIS_PREFIX: z.string().min(1).default('ts:'),
    BULLMQ_PREFIX: z.string().min(1).default('ts-bull'),

    GATEWAY_PORT: port.default(8000),
    AUTH_PORT: port.default(8001),
    SESSIONS_PORT: port.default(8002),
    TENANTS_PORT: port.default(8003),
    TRADING_PORT: port.default(8004),
    MARKET_DATA_PORT: port.default(8005),
    ANALYTICS_PORT: port.default(8006),
    AUTH_URL: z.url().optional(),
    SESSIONS_URL: z.url().optional(),
    TENANTS_URL: z.url().optional(),

    SUPERGRAPH_PATH: z.string().default(path.join(PROJECT_ROOT, 'schema', 'supergraph.graphql')),
    SUPERGRAPH_WATCH: bool.optional(),
    INTROSPECTION: bool.optional(),
    CORS_ORIGINS: list.default(['http://localhost:8000', 'http://127.0.0.1:8000', 'http://localhost:3000']),
    MAX_QUERY_BYTES: positiveInt.default(20_000),
    MAX_QUERY_DEPTH: positiveInt.default(12),
    MAX_QUERY_ALIASES: positiveInt.default(30),
    RATE_LIMIT_WINDOW_SECONDS: positiveInt.default(60),
    RATE_LIMIT_PER_IP: positiveInt.default(600),
    RATE_LIMIT_PER_USER: positiveInt.default(1200),
    RATE_LIMIT_PER_TENANT: positiveInt.default(6000),
    SESSION_CACHE_SECONDS: positiveInt.default(30),

    JWT_KEYS_DIR: z.string().default(path.join(PROJECT_ROOT, 'keys', 'jwt')),
    JWT_ISSUER: z.string().default('tradesage-auth'),
    JWT_AUDIENCE: z.string().default('tradesage'),
    JWKS_URL: z.url().optional(),
    ACCESS_TOKEN_TTL_SECONDS: positiveInt.default(900),
    SESSION_TTL_SECONDS: positiveInt.default(30 * 24 * 3600),
    SESSION_EVENTS_MAX: positiveInt.default(50),
    /** Shared secret for internal (service-to-service) calls; never logged. */
    SERVICE_TOKEN: z.string().min(32, 'SERVICE_TOKEN must be at least 32 characters (run `make setup`)'),

    LOGIN_THROTTLE_WINDOW_SECONDS: positiveInt.default(900),
    LOGIN_THROTTLE_PER_ACCOUNT: positiveInt.default(5),
    LOGIN_THROTTLE_PER_IP: positiveInt.default(50),
    PASSWORD_MIN_LENGTH: positiveInt.default(10),

    OIDC_ISSUER: z.url().optional(),
    OIDC_CLIENT_ID: z.string().optional(),
    OIDC_CLIENT_SECRET: z.string().optional(),
    OIDC_REDIRECT_URI: z.url().optional(),
    OIDC_SCOPES: z.string().default('openid email profile'),
    /** Allow plain-HTTP OIDC issuers (development and tests on loopback only). */
    OIDC_ALLOW_INSECURE: bool.default(false),

    DEFAULT_TENANT_TEMPLATE: z.string().default('trading'),
    TENANT_TEMPLATES_DIR: z.string().default(path.join(PROJECT_ROOT, 'schema', 'templates')),
    PROVISIONING_CONCURRENCY: positiveInt.default(4),
    JOB_ATTEMPTS: positiveInt.default(5),
    JOB_BACKOFF_MS: positiveInt.default(1000),
    PAPER_STARTING_CASH: z.string().regex(/^\d+(\.\d+)?$/).default('100000'),
  })
  .superRefine((c, ctx) => {
    if (c.OIDC_ISSUER && !(c.OIDC_CLIENT_ID && c.OIDC_REDIRECT_URI)) {
      ctx.addIssue({
        code: 'custom',
        path: ['OIDC_CLIENT_ID'],
        message: 'OIDC_CLIENT_ID and OIDC_REDIRECT_URI are required when OIDC_ISSUER is set',
      });
    }
  });

type Raw = z.infer<typeof schema>;

/** Typed, validated configuration shared by the gateway, every subgraph and the workers. */
export type Config = Readonly<
  Raw & {
    isProduction: boolean;
    supergraphWatch: boolean;
    introspection: boolean;
    authUrl: string;
    sessionsUrl: string;
    tenantsUrl: string;
    jwksUrl: string;
  }
>;

/** Thrown when the environment is invalid; lists every bad variable at once. */
export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`Invalid configuration:\n  - ${issues.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Validates an environment into a {@link Config}.
 * @param env variables to read; defaults to `process.env` (plus `.env` at the project root when present)
 */
export function loadConfig(env: Record<string, string | undefined> = readProcessEnv()): Config {
  const parsed = schema.safeParse(stripEmpty(env));
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const c = parsed.data;
  const local = (p: number): string => `http://127.0.0.1:${p}`;
  const authUrl = c.AUTH_URL ?? local(c.AUTH_PORT);
  return Object.freeze({
    ...c,
    isProduction: c.NODE_ENV === 'production',
    supergraphWatch: c.SUPERGRAPH_WATCH ?? c.NODE_ENV === 'development',
    introspection: c.INTROSPECTION ?? c.NODE_ENV !== 'production',
    authUrl,
    sessionsUrl: c.SESSIONS_URL ?? local(c.SESSIONS_PORT),
    tenantsUrl: c.TENANTS_URL ?? local(c.TENANTS_PORT),
    jwksUrl: c.JWKS_URL ?? `${authUrl}/.well-known/jwks.json`,
  });
}

let cached: Config | undefined;

/** The process-wide configuration, validated on first use. */
export function config(): Config {
  cached ??= loadConfig();
  return cached;
}

function stripEmpty(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') out[k] = v;
  return out;
}

let envFileLoaded = false;
/** The process environment (with `.env` applied); tests merge their overrides into it. */
export function processEnv(): Record<string, string | undefined> {
  return readProcessEnv();
}

function readProcessEnv(): Record<string, string | undefined> {
  const file = path.join(PROJECT_ROOT, '.env');
  // Variables already set in the environment win over `.env` (loadEnvFile does not overwrite).
  if (!envFileLoaded && existsSync(file) && process.env['TRADESAGE_SKIP_DOTENV'] !== '1') {
    process.loadEnvFile(file);
    envFileLoaded = true;
  }
  return process.env;
}
