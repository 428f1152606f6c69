/**
 * The one place that reads `process.env`. lib holds the kernel every process shares (ports, URLs,
 * database, Redis, JWT, logging, request limits); each subgraph declares its own variables as a
 * {@link ConfigSection} in its `src/config.ts`. {@link loadConfig} validates the kernel and the given
 * sections in one pass, so every bad variable is reported in one error, and returns a typed, frozen
 * object that factories receive explicitly. scripts/platform-config.ts composes every section.
 */
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { serviceTokenProblem } from './secret-strength.js';

/** Root of the repository (lib/..). */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// The field types every section uses, so a boolean or a list reads the same in every subgraph.
export const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])
  .transform((v) => ['true', '1', 'yes', 'on'].includes(v));
export const port = z.coerce.number().int().min(0).max(65535);
export const positiveInt = z.coerce.number().int().positive();
export const decimalString = z.string().regex(/^\d+(\.\d+)?$/, 'expected a non-negative decimal number');
export const list = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0),
);

/** An entry of TRUSTED_PROXIES as Express's `trust proxy` (proxy-addr) accepts it. */
function isProxyEntry(entry: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true;
  const [ip = '', prefix, extra] = entry.split('/');
  const family = isIP(ip);
  if (family === 0 || extra !== undefined) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

// A placeholder or a guessable token is refused at start (lib/secret-strength), with the other issues.
const serviceToken = z
  .string()
  .min(32, 'SERVICE_TOKEN must be at least 32 characters (run `make setup`)')
  .check((ctx) => {
    const problem = ctx.value.length >= 32 ? serviceTokenProblem(ctx.value) : undefined;
    if (problem) ctx.issues.push({ code: 'custom', message: `SERVICE_TOKEN ${problem}`, input: ctx.value });
  });

/**
 * The tracing variables (lib/telemetry.ts), also validated alone by {@link loadTelemetryConfig}: the
 * telemetry preload runs before the entry and must not depend on the rest of the configuration.
 */
const TELEMETRY_VARIABLES = {
  /** Base URL of an OTLP/HTTP receiver (`/v1/traces` is appended); tracing is off when unset. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  /** Encoding of exported spans. */
  OTEL_EXPORTER_OTLP_PROTOCOL: z.enum(['http/protobuf', 'http/json']).default('http/protobuf'),
  /** `service.name` of this process's spans; by default `tradesage-<process>` (gateway, trading...). */
  OTEL_SERVICE_NAME: z.string().min(1).optional(),
  /** Which traces are recorded (the specification's sampler names). */
  OTEL_TRACES_SAMPLER: z
    .enum([
      'always_on',
      'always_off',
      'traceidratio',
      'parentbased_always_on',
      'parentbased_always_off',
      'parentbased_traceidratio',
    ])
    .default('parentbased_always_on'),
  /** Ratio of the `*traceidratio` samplers, 0 to 1. */
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).default(1),
  /**
   * Share of subscription events (upstream event to client frames) that get a span at the gateway,
   * 0 to 1; subscriptions are hot, so only a sample is traced.
   */
  TRACING_SUBSCRIPTION_EVENT_RATIO: z.coerce.number().min(0).max(1).default(0.01),
};

/** The kernel's variables: what the gateway and every service read. */
const KERNEL_VARIABLES = {
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Interface services bind to; 0.0.0.0 inside containers. */
  BIND_HOST: z.string().default('127.0.0.1'),

  DATABASE_URL: z.url().default('postgres://tradesage_app@127.0.0.1:5432/tradesage'),
  DATABASE_OWNER_URL: z.url().default('postgres://tradesage_owner@127.0.0.1:5432/tradesage'),
  DATABASE_ADMIN_URL: z.url().default('postgres://postgres@127.0.0.1:5432/postgres'),
  DATABASE_APP_ROLE: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/)
    .default('tradesage_app'),
  DATABASE_OWNER_ROLE: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/)
    .default('tradesage_owner'),
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
  MARKET_DATA_URL: z.url().optional(),
  TRADING_URL: z.url().optional(),
  ANALYTICS_URL: z.url().optional(),

  SUPERGRAPH_PATH: z.string().default(path.join(PROJECT_ROOT, 'schema', 'supergraph.graphql')),
  SUPERGRAPH_WATCH: bool.optional(),
  INTROSPECTION: bool.optional(),
  CORS_ORIGINS: list.default(['http://localhost:8000', 'http://127.0.0.1:8000', 'http://localhost:3000']),
  MAX_QUERY_BYTES: positiveInt.default(20_000),
  MAX_QUERY_DEPTH: positiveInt.default(12),
  MAX_QUERY_ALIASES: positiveInt.default(30),
  /** Lexical tokens in a query document (graphql-js parser limit). */
  MAX_QUERY_TOKENS: positiveInt.default(2000),
  /** Directives in an operation, fragments expanded. */
  MAX_QUERY_DIRECTIVES: positiveInt.default(50),
  /** Static cost of an operation (gateway/src/query-cost.ts): objects returned, lists multiplied, plus fetches. */
  MAX_QUERY_COST: positiveInt.default(50_000),
  /** Size assumed for a list field without a size argument (`first`, `last`, `limit`). */
  QUERY_COST_LIST_SIZE: positiveInt.default(10),
  /** Size assumed for a paginated list field whose size argument is omitted and has no default. */
  QUERY_COST_PAGE_SIZE: positiveInt.default(50),
  /** Cost a tenant's operations may spend per window (Redis); anonymous callers are budgeted per IP. */
  COST_BUDGET_PER_TENANT: positiveInt.default(500_000),
  COST_BUDGET_PER_IP: positiveInt.default(100_000),
  COST_BUDGET_WINDOW_SECONDS: positiveInt.default(60),
  /** Bounds of the persisted-query (APQ) store, in Redis and in each gateway's memory; LRU beyond. */
  APQ_MAX_ENTRIES: positiveInt.default(5000),
  APQ_MAX_BYTES: positiveInt.default(8 * 1024 * 1024),
  /** Persisted-operations manifest (Apollo format): its operations are served by hash to everyone. */
  PERSISTED_OPERATIONS_PATH: z.string().optional(),
  /** Refuse any document that is not in the manifest (needs PERSISTED_OPERATIONS_PATH). */
  PERSISTED_OPERATIONS_ONLY: bool.default(false),
  RATE_LIMIT_WINDOW_SECONDS: positiveInt.default(60),
  RATE_LIMIT_PER_IP: positiveInt.default(600),
  RATE_LIMIT_PER_USER: positiveInt.default(1200),
  RATE_LIMIT_PER_TENANT: positiveInt.default(6000),
  /**
   * Bursts: each of those limits, the cost budgets and SUBSCRIPTIONS_SUBSCRIBE_RATE_PER_USER also
   * hold over every RATE_LIMIT_BURST_SECONDS, at RATE_LIMIT_BURST_FACTOR times the average rate (0: no
   * burst limit), so a window's allowance cannot be spent in its first second (a tenant's own limits
   * are scaled the same way; a cost budget's burst never goes below MAX_QUERY_COST).
   */
  RATE_LIMIT_BURST_SECONDS: positiveInt.default(1),
  RATE_LIMIT_BURST_FACTOR: z.coerce.number().min(0).default(2),
  /**
   * How often each gateway adds its rate-limit and cost-budget counts to Redis and learns the other
   * replicas' (the limits are decided in memory between syncs; docs/security.md).
   */
  RATE_LIMIT_SYNC_MS: positiveInt.default(50),
  SESSION_CACHE_SECONDS: positiveInt.default(30),
  /** How long the gateway keeps an automatic persisted query (APQ) in Redis. */
  APQ_TTL_SECONDS: positiveInt.default(24 * 3600),
  /** Share one subgraph fetch between identical concurrent query fetches with the same Authorization. */
  GATEWAY_DEDUPE: bool.default(true),
  /**
   * Answer queries the planner serves with one subgraph fetch without the gateway's re-shaping walk
   * (gateway/src/single-fetch.gateway.ts). false sends every query through @apollo/gateway's executor.
   */
  GATEWAY_SINGLE_FETCH: bool.default(true),
  /**
   * Run the other query plans (entity jumps, several subgraphs) on the gateway's lean executor
   * (gateway/src/plan-executor.ts: the library's pieces, the parsed operation cached with the plan)
   * instead of @apollo/gateway's executeQueryPlan. Either way while tracing is on.
   */
  GATEWAY_LEAN_EXECUTOR: bool.default(true),
  /**
   * Serve JSON POSTs of documents Apollo Server has validated before without its request pipeline
   * (gateway/src/lean-pipeline.ts: the same context, limits, admission and executors, the same
   * answers); anything else still goes through Apollo Server. Needs GATEWAY_SINGLE_FETCH or
   * GATEWAY_LEAN_EXECUTOR; off while tracing is on.
   */
  GATEWAY_LEAN_PIPELINE: bool.default(true),
  /**
   * The same for each subgraph (lib/lean-graphql.ts: the same context, graphql-js execution and
   * answers as Apollo Server's); a subgraph with plugins of its own stays on Apollo Server's pipeline.
   */
  SUBGRAPH_LEAN_PIPELINE: bool.default(true),
  /**
   * Per-tenant fairness of the gateway (gateway/src/tenant-fairness.ts): operations in flight in one
   * gateway process, for all tenants, per tenant and per user. Beyond a bound an operation waits in its
   * tenant's queue (freed slots go round robin between tenants); beyond GATEWAY_TENANT_QUEUE_MAX
   * waiting, or after GATEWAY_QUEUE_TIMEOUT_MS, it is refused with RATE_LIMITED.
   */
  GATEWAY_MAX_IN_FLIGHT: positiveInt.default(256),
  GATEWAY_TENANT_MAX_IN_FLIGHT: positiveInt.default(32),
  GATEWAY_USER_MAX_IN_FLIGHT: positiveInt.default(16),
  GATEWAY_TENANT_QUEUE_MAX: z.coerce.number().int().min(0).default(64),
  GATEWAY_QUEUE_TIMEOUT_MS: positiveInt.default(10_000),
  /**
   * Below this many operations in flight in the process, an operation starts at once whoever sends it:
   * idle capacity is not held back, so a steady client whose answers slow down for a moment is not
   * queued (and refused) behind its own earlier operations. From it on, the tenant and user bounds
   * apply and waiting tenants are served round robin. 0: the bounds always apply.
   */
  GATEWAY_FAIRNESS_FREE_IN_FLIGHT: z.coerce.number().int().min(0).default(64),
  /**
   * Pacing of refusals (gateway/src/refusal-pacing.ts): beyond GATEWAY_REFUSALS_FREE refused answers
   * to one caller in GATEWAY_REFUSAL_WINDOW_MS, each further refused answer waits
   * GATEWAY_REFUSAL_DELAY_MS (0 turns pacing off), at most GATEWAY_REFUSALS_MAX_HELD per process and
   * GATEWAY_REFUSALS_MAX_HELD_PER_CALLER per caller; beyond those it leaves at once, closing the connection.
   */
  GATEWAY_REFUSALS_FREE: z.coerce.number().int().min(0).default(20),
  GATEWAY_REFUSAL_WINDOW_MS: positiveInt.default(10_000),
  GATEWAY_REFUSAL_DELAY_MS: z.coerce.number().int().min(0).max(60_000).default(1000),
  GATEWAY_REFUSALS_MAX_HELD: positiveInt.default(2000),
  GATEWAY_REFUSALS_MAX_HELD_PER_CALLER: positiveInt.default(32),
  /**
   * Documents one caller may bring that this gateway process has not validated yet, per
   * GATEWAY_NEW_DOCUMENTS_WINDOW_SECONDS (gateway/src/first-sight.ts): each costs a parse, a
   * validation and a query plan (up to tens of ms of the process's one core), which no rate limit of
   * requests bounds when every request carries a new text. Beyond: RATE_LIMITED with retryAfter.
   */
  GATEWAY_NEW_DOCUMENTS_PER_CALLER: positiveInt.default(100),
  GATEWAY_NEW_DOCUMENTS_WINDOW_SECONDS: positiveInt.default(60),
  /** Gateway -> subgraph request timeout. */
  SUBGRAPH_TIMEOUT_MS: positiveInt.default(30_000),
  /** Live subscriptions one gateway socket may hold (issue 11, subscriptions containment). */
  SUBSCRIPTIONS_MAX_PER_SOCKET: positiveInt.default(50),
  /** Live subscriptions one user may hold across every gateway replica (counted in Redis). */
  SUBSCRIPTIONS_MAX_PER_USER: positiveInt.default(200),
  /**
   * Live caller-dependent subscriptions (orders, trades: everything but public market data) per user,
   * across replicas: the subgraph runs each distinct one for every event of the user's own activity.
   */
  SUBSCRIPTIONS_MAX_PRIVATE_PER_USER: positiveInt.default(10),
  /** Live subscriptions one client IP may hold across every gateway replica (counted in Redis). */
  SUBSCRIPTIONS_MAX_PER_IP: positiveInt.default(500),
  /** Window of the three subscription rate limits below. */
  SUBSCRIPTIONS_RATE_WINDOW_SECONDS: positiveInt.default(60),
  /** graphql-ws `connection_init` messages per client IP per window. */
  SUBSCRIPTIONS_CONNECT_RATE_PER_IP: positiveInt.default(60),
  /** `subscribe` messages per socket per window. */
  SUBSCRIPTIONS_SUBSCRIBE_RATE_PER_SOCKET: positiveInt.default(300),
  /** `subscribe` messages per user per window, across replicas. */
  SUBSCRIPTIONS_SUBSCRIBE_RATE_PER_USER: positiveInt.default(1000),
  /** Upstream graphql-ws sockets per (subgraph, auth scope) that subscriptions are multiplexed over. */
  SUBSCRIPTIONS_UPSTREAM_SOCKETS: positiveInt.default(2),
  /** How often an open socket's session is asked again (a revocation message may be lost); at most 30. */
  SUBSCRIPTION_SESSION_RECHECK_SECONDS: positiveInt.max(30).default(30),

  /** Run-time files of the run command: logs (`<DATA_DIR>/logs`) and the development MA130. */
  DATA_DIR: z.string().default(path.join(PROJECT_ROOT, 'data')),
  JWT_ISSUER: z.string().default('tradesage-auth'),
  JWT_AUDIENCE: z.string().default('tradesage'),
  JWKS_URL: z.url().optional(),
  /** Shared secret for internal (service-to-service) calls; never logged. */
  SERVICE_TOKEN: serviceToken,
  /**
   * Peers whose X-Forwarded-For the gateway honours (addresses or CIDRs, or Express's `loopback`,
   * `linklocal`, `uniquelocal`). Empty: none, the client IP is always the socket peer.
   */
  TRUSTED_PROXIES: list.default([]).refine((entries) => entries.every(isProxyEntry), {
    message: 'expected addresses or CIDRs (e.g. 10.0.0.0/8, ::1/128) or loopback, linklocal, uniquelocal',
  }),

  /** Template of a new tenant's schema: auth asks for it at registration, tenants falls back to it. */
  DEFAULT_TENANT_TEMPLATE: z.string().default('trading'),
  /** Port of the tenants worker's /health, /ready and /metrics; unset: 8103 (0, any free port, in tests). */
  TENANTS_WORKER_PORT: port.optional(),

  // OpenTelemetry tracing (lib/telemetry.ts): the standard OTEL_* variables; off without an endpoint.
  ...TELEMETRY_VARIABLES,

  // --- Cluster (issue 12): Redis through Sentinel, TLS to Redis and Sentinel, `make cluster` ports ---
  /**
   * Sentinels (`host:port`, comma-separated). Set: every Redis client asks them for the primary of
   * REDIS_SENTINEL_NAME and follows failovers; REDIS_URL then gives only the scheme (`rediss:` for TLS),
   * the user, the password and the database number.
   */
  REDIS_SENTINELS: list.default([]).refine((entries) => entries.every((e) => /^[^:\s]+:\d{1,5}$/.test(e)), {
    message: 'expected host:port entries, comma-separated',
  }),
  /** The primary's name the sentinels monitor. */
  REDIS_SENTINEL_NAME: z.string().min(1).default('tradesage'),
  /** Talk TLS to the sentinels too (verified against REDIS_TLS_CA_PATH, like the data nodes). */
  REDIS_SENTINEL_TLS: bool.default(false),
  /** PEM file of the CA that signs the Redis and Sentinel certificates (relative to the project root); unset: Node's CAs. */
  REDIS_TLS_CA_PATH: z.string().min(1).optional(),
  /** First of the consecutive loopback ports `make cluster` gives its processes (HAProxy keeps GATEWAY_PORT). */
  CLUSTER_PORT_BASE: port.default(19_000),

  // --- Web desk (issue 14): the browser app the gateway serves at / ---
  /** Folder of the built web desk (`vite build --config web/vite.config.ts`), from the project root. */
  WEB_DIST_DIR: z.string().min(1).default('web/dist'),
  /** Serve the desk through Vite's dev server with live reload instead of the built files. Default: NODE_ENV=development. */
  WEB_DEV_SERVER: bool.optional(),
  /** Port of the dev server's live-reload WebSocket (development only). */
  WEB_HMR_PORT: port.default(24678),
};

type Raw = z.infer<z.ZodObject<typeof KERNEL_VARIABLES>>;

/** Typed, validated configuration shared by the gateway, every subgraph and the workers. */
export type Config = Readonly<
  Raw & {
    isProduction: boolean;
    supergraphWatch: boolean;
    introspection: boolean;
    authUrl: string;
    sessionsUrl: string;
    tenantsUrl: string;
    marketDataUrl: string;
    tradingUrl: string;
    analyticsUrl: string;
    jwksUrl: string;
    tenantsWorkerPort: number;
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
 * A subgraph's own variables (its `src/config.ts`), validated in the same pass as the kernel's.
 * `check` adds rules across variables as zod issues; `finish` turns the validated values into the
 * section's and may throw a {@link ConfigError} for what a schema cannot see (a file to read), which
 * is reported with the other sections' problems.
 */
export interface ConfigSection<T extends object> {
  readonly variables: z.ZodRawShape;
  check(values: Record<string, unknown>, ctx: z.core.$RefinementCtx): void;
  finish(values: Record<string, unknown>): T;
}

/**
 * Declares a section from its zod fields (use the field types exported here).
 * @param options.check rules across the section's variables, run with the kernel's validation
 * @param options.finish derives values after validation; default: the validated variables as they are
 */
export function configSection<S extends z.ZodRawShape, T extends object = z.output<z.ZodObject<S>>>(
  variables: S,
  options: {
    check?: (values: z.output<z.ZodObject<S>>, ctx: z.core.$RefinementCtx) => void;
    finish?: (values: z.output<z.ZodObject<S>>) => T;
  } = {},
): ConfigSection<T> {
  const names = Object.keys(variables);
  const own = (values: Record<string, unknown>): z.output<z.ZodObject<S>> =>
    Object.fromEntries(names.map((n) => [n, values[n]])) as z.output<z.ZodObject<S>>;
  return {
    variables,
    check: (values, ctx) => options.check?.(own(values), ctx),
    finish: (values) => (options.finish ? options.finish(own(values)) : (own(values) as unknown as T)),
  };
}

// Each section's values are boxed so that a union inside one section is not turned into an intersection.
type Boxed<S> = S extends ConfigSection<infer T> ? { values: T } : never;
type Intersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;
/** The configuration of a process that loads the kernel and these sections. */
export type ConfigWith<S extends readonly ConfigSection<object>[]> = Config &
  Readonly<Intersection<Boxed<S[number]>> extends { values: infer V } ? V : unknown>;

/** Names of every variable of the kernel and of these sections (env.example's drift check). */
export function configVariableNames(...sections: readonly ConfigSection<object>[]): string[] {
  return [KERNEL_VARIABLES, ...sections.map((s) => s.variables)].flatMap((v) => Object.keys(v));
}

/**
 * Validates an environment into a {@link Config} plus the given sections' values, listing every
 * problem of all of them in one {@link ConfigError}.
 * @param env variables to read; defaults to `process.env` (plus `.env` at the project root when present)
 */
export function loadConfig<const S extends readonly ConfigSection<object>[]>(
  env: Record<string, string | undefined> = readProcessEnv(),
  ...sections: S
): ConfigWith<S> {
  const shape: Record<string, z.core.$ZodType> = { ...KERNEL_VARIABLES };
  for (const section of sections) {
    for (const [name, field] of Object.entries(section.variables)) {
      if (name in shape) throw new Error(`configuration variable ${name} is declared twice`);
      shape[name] = field;
    }
  }
  const parsed = z
    .object(shape)
    .superRefine((c, ctx) => sections.forEach((section) => section.check(c, ctx)))
    .safeParse(stripEmpty(env));
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const values = parsed.data as Record<string, unknown>;
  const issues: string[] = [];
  const finished = sections.map((section) => {
    try {
      return section.finish(values);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      issues.push(...err.issues);
      return {};
    }
  });
  if (issues.length > 0) throw new ConfigError(issues);
  const c = values as Raw;
  const local = (p: number): string => `http://127.0.0.1:${p}`;
  const authUrl = c.AUTH_URL ?? local(c.AUTH_PORT);
  const kernel: Config = {
    ...c,
    isProduction: c.NODE_ENV === 'production',
    supergraphWatch: c.SUPERGRAPH_WATCH ?? c.NODE_ENV === 'development',
    introspection: c.INTROSPECTION ?? c.NODE_ENV !== 'production',
    authUrl,
    sessionsUrl: c.SESSIONS_URL ?? local(c.SESSIONS_PORT),
    tenantsUrl: c.TENANTS_URL ?? local(c.TENANTS_PORT),
    marketDataUrl: c.MARKET_DATA_URL ?? local(c.MARKET_DATA_PORT),
    tradingUrl: c.TRADING_URL ?? local(c.TRADING_PORT),
    analyticsUrl: c.ANALYTICS_URL ?? local(c.ANALYTICS_PORT),
    jwksUrl: c.JWKS_URL ?? `${authUrl}/.well-known/jwks.json`,
    // Test files start workers in parallel, so a fixed default port would collide there.
    tenantsWorkerPort: c.TENANTS_WORKER_PORT ?? (c.NODE_ENV === 'test' ? 0 : 8103),
  };
  return Object.freeze(Object.assign(kernel, ...finished)) as ConfigWith<S>;
}

/**
 * The tracing variables alone, for lib/telemetry.register.ts (which runs before the entry validates
 * everything); undefined when one is invalid, which the entry's {@link loadConfig} then reports.
 */
export function loadTelemetryConfig(
  env: Record<string, string | undefined> = readProcessEnv(),
): z.infer<z.ZodObject<typeof TELEMETRY_VARIABLES>> | undefined {
  const parsed = z.object(TELEMETRY_VARIABLES).safeParse(stripEmpty(env));
  return parsed.success ? parsed.data : undefined;
}

function stripEmpty(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') out[k] = v;
  return out;
}

/**
 * Turns off Apollo's phone-home: @apollo/gateway (2.14) sends anonymous OTLP metrics to
 * usage-reporting.api.apollographql.com unless `APOLLO_TELEMETRY_DISABLED` is set when the gateway is
 * constructed. It is a process-wide switch read by the library, so it is written here, next to the
 * only other place that touches `process.env`.
 */
export function disableApolloTelemetry(): void {
  process.env['APOLLO_TELEMETRY_DISABLED'] = 'true';
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
