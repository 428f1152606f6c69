/**
 * The one place that reads `process.env`. Every variable is validated here once,
 * every bad variable is reported in one error, and the result is a typed, frozen
 * object that factories receive explicitly (tests build their own with `loadConfig`).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { serviceTokenProblem } from './secret-strength.js';

/** Root of the repository (lib/..). */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])
  .transform((v) => ['true', '1', 'yes', 'on'].includes(v));
const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const decimalString = z.string().regex(/^\d+(\.\d+)?$/, 'expected a non-negative decimal number');
const list = z.string().transform((v) =>
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

const schema = z
  .object({
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
    JWT_KEYS_DIR: z.string().default(path.join(PROJECT_ROOT, 'keys', 'jwt')),
    JWT_ISSUER: z.string().default('tradesage-auth'),
    JWT_AUDIENCE: z.string().default('tradesage'),
    JWKS_URL: z.url().optional(),
    ACCESS_TOKEN_TTL_SECONDS: positiveInt.default(900),
    SESSION_TTL_SECONDS: positiveInt.default(30 * 24 * 3600),
    SESSION_EVENTS_MAX: positiveInt.default(50),
    /** A session's lastActiveAt (and TTL) is rewritten at most this often, to avoid a write per request. */
    SESSION_TOUCH_INTERVAL_SECONDS: positiveInt.default(60),
    /** Shared secret for internal (service-to-service) calls; never logged. */
    SERVICE_TOKEN: serviceToken,
    /**
     * Peers whose X-Forwarded-For the gateway honours (addresses or CIDRs, or Express's `loopback`,
     * `linklocal`, `uniquelocal`). Empty: none, the client IP is always the socket peer.
     */
    TRUSTED_PROXIES: list.default([]).refine((entries) => entries.every(isProxyEntry), {
      message: 'expected addresses or CIDRs (e.g. 10.0.0.0/8, ::1/128) or loopback, linklocal, uniquelocal',
    }),

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
    REGISTER_THROTTLE_PER_IP: positiveInt.default(10),
    REGISTER_THROTTLE_WINDOW_SECONDS: positiveInt.default(3600),
    /** Tenants created per client IP per window (`provisionTenant`, REST provision), before RATE_LIMITED. */
    TENANT_CREATE_THROTTLE_PER_IP: positiveInt.default(10),
    TENANT_CREATE_THROTTLE_WINDOW_SECONDS: positiveInt.default(3600),
    /** Organizations one user may own (OWNER memberships); beyond it QUOTA_EXCEEDED. */
    TENANTS_MAX_OWNED_PER_USER: positiveInt.default(10),
    /** Failed logins per (account, client IP) pair per LOGIN_THROTTLE_WINDOW_SECONDS before that pair is locked. */
    LOGIN_THROTTLE_PER_ACCOUNT_IP: positiveInt.default(5),
    /** Longest account-wide delay between attempts from sources that already failed on the account. */
    LOGIN_DELAY_MAX_SECONDS: positiveInt.default(60),
    /** Hard end of a session however often it is refreshed (90 days). */
    SESSION_ABSOLUTE_TTL_SECONDS: positiveInt.default(90 * 24 * 3600),
    /** Live sessions per user; opening one more revokes the least recently active. */
    SESSIONS_MAX_PER_USER: positiveInt.default(50),

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
    PAPER_STARTING_CASH: z
      .string()
      .regex(/^\d+(\.\d+)?$/)
      .default('100000'),
    /** Port of the tenants worker's /health, /ready and /metrics; unset: 8103 (0, any free port, in tests). */
    TENANTS_WORKER_PORT: port.optional(),
    /**
     * Niceness the tenants worker runs at (0-19; its pg_dump, gzip and encryption inherit it), so
     * provisioning and backups yield the CPU to the request-serving services on a shared host.
     */
    TENANTS_WORKER_NICE: z.coerce.number().int().min(0).max(19).default(10),
    /** Tenant schemas migrated per batch by the migrate-tenants job. */
    TENANT_MIGRATION_BATCH_SIZE: positiveInt.default(50),

    /** MA130 backup host (SFTP over SSH, key authentication; the seed's names). */
    MA130_HOST: z.string().min(1).default('127.0.0.1'),
    MA130_PORT: port.default(22),
    MA130_USERNAME: z.string().min(1).default('tradesage_backup'),
    /** Private key of the backup account (OpenSSH format); relative paths are from the project root. */
    MA130_KEY_PATH: z.string().min(1).default('keys/ma130_rsa'),
    /** Absolute folder on the MA130 under which `YYYY/MM/DD/backup_...sql.gz.enc` files are written. */
    MA130_BACKUP_PATH: z.string().startsWith('/').default('/data/tradesage/backups'),
    /**
     * Pinned host key of the MA130, `SHA256:<base64>` as `ssh-keygen -lf` prints it. Required for
     * backups: a connection whose host key differs is refused (a permanent failure, never retried).
     */
    MA130_HOST_KEY_SHA256: z
      .string()
      .regex(/^SHA256:[A-Za-z0-9+/]{43}=?$/, 'expected SHA256:<43 base64 characters> (ssh-keygen -lf)')
      .optional(),
    /**
     * The other way to pin the MA130's host key: its public key file (one OpenSSH line, e.g.
     * `ssh_host_ed25519_key.pub`), read at startup; relative paths are from the project root. Used
     * when MA130_HOST_KEY_SHA256 is not set (docker-compose's `ma130` service shares its key this way).
     */
    MA130_HOST_PUBLIC_KEY_PATH: z.string().min(1).optional(),
    /** TCP connect + SSH handshake timeout. */
    MA130_CONNECT_TIMEOUT_MS: positiveInt.default(20_000),
    /**
     * How often the tenants worker probes the MA130 (connect, write, read back, delete a probe file)
     * for its non-fatal /ready check and `tenants_ma130_reachable`.
     */
    MA130_CHECK_INTERVAL_MS: positiveInt.default(60_000),
    /**
     * Backup encryption keys `id:base64(32 bytes)`, comma-separated, oldest first: the last one
     * encrypts, all of them decrypt (key rotation). When unset, BACKUP_KEY_PATH is read instead.
     */
    BACKUP_ENCRYPTION_KEYS: z.string().optional(),
    /** Key file: one key per line (`id:base64` or bare base64, whose id is derived), last one encrypts. */
    BACKUP_KEY_PATH: z.string().min(1).default('keys/backup.key'),
    /** gzip level of backups (the seed says 9; 1 or 6 trade size for speed, see BENCHMARKS.md). */
    BACKUP_GZIP_LEVEL: z.coerce.number().int().min(1).max(9).default(9),
    /** Nightly backup schedule (cron, BACKUP_CRON_TZ), off-peak by default. */
    BACKUP_CRON: z.string().min(9).default('30 2 * * *'),
    BACKUP_CRON_TZ: z.string().min(1).default('UTC'),
    /** Whether the worker upserts the nightly schedule (false removes it). */
    BACKUP_SCHEDULE_ENABLED: bool.default(true),
    /** Backups running at once in one worker (each runs a pg_dump and a gzip). */
    BACKUP_CONCURRENCY: positiveInt.default(2),
    /** Attempts of a backup, restore or clone job, and the first retry delay (exponential, jittered). */
    BACKUP_JOB_ATTEMPTS: positiveInt.default(5),
    BACKUP_RETRY_DELAY_MS: positiveInt.default(30_000),
    /**
     * BullMQ lock of backup and restore jobs: renewed every half of it while the job runs; a job whose
     * worker died is picked up again after about this long (stalled-job recovery).
     */
    BACKUP_JOB_LOCK_MS: z.coerce.number().int().min(1000).default(30_000),
    /** Retention: newest backup of each of the last N days / ISO weeks / months is kept. */
    BACKUP_RETENTION_DAILY: z.coerce.number().int().min(0).default(7),
    BACKUP_RETENTION_WEEKLY: z.coerce.number().int().min(0).default(4),
    BACKUP_RETENTION_MONTHLY: z.coerce.number().int().min(0).default(12),
    /** pg_dump --lock-wait-timeout, and the restore's lock_timeout. */
    BACKUP_LOCK_WAIT_TIMEOUT_MS: positiveInt.default(30_000),
    /** A tenant whose last verified backup is older than this is DEGRADED (health, alerts). */
    BACKUP_STALE_AFTER_HOURS: positiveInt.default(36),
    /** Folder for restore downloads (verified before decrypting); unset: the OS temp folder. */
    BACKUP_TMP_DIR: z.string().optional(),
    /** Folder of pg_dump and psql (matching the server's major version); unset: the PATH. */
    PG_BIN_DIR: z.string().optional(),
    /** Size a tenant schema may reach; health and alerts warn from 80% of it. */
    TENANT_SCHEMA_QUOTA_BYTES: positiveInt.default(5 * 1024 ** 3),
    /**
     * MANUAL backups a tenant may request per UTC day through the API (QUOTA_EXCEEDED beyond it, with
     * retryAfter until the next UTC day). Scheduled and initial backups are the platform's and never count.
     */
    BACKUP_MANUAL_MAX_PER_DAY: positiveInt.default(10),

    /** Whether this market-data replica takes part in the feed leader election (one producer at a time). */
    MARKET_FEED_ENABLED: bool.default(true),
    /** Feed provider: `simulator` (seeded geometric Brownian motion) or `replay` (stored ticks played back). */
    MARKET_FEED_PROVIDER: z.enum(['simulator', 'replay']).default('simulator'),
    /** Seed of the simulator: the same seed and symbols give the same price paths. */
    MARKET_FEED_SEED: z.coerce.number().int().min(0).default(42),
    /** Ticks per second, in total across the symbols. */
    MARKET_FEED_TICKS_PER_SECOND: z.coerce.number().positive().max(1_000_000).default(50),
    /** Symbols the feed produces; empty: every tradable instrument. */
    MARKET_FEED_SYMBOLS: list.default([]),
    /** Replay window (ISO-8601); unset: the last 24 hours of stored ticks. */
    MARKET_FEED_REPLAY_FROM: z.iso.datetime({ offset: true }).optional(),
    MARKET_FEED_REPLAY_TO: z.iso.datetime({ offset: true }).optional(),
    /** Replay speed: 1 plays stored ticks at their recorded pace, 10 ten times faster. */
    MARKET_FEED_REPLAY_SPEED: z.coerce.number().positive().default(1),
    /** Feed leader lock lifetime; the leader renews it every third of this, followers take over after it. */
    MARKET_FEED_LOCK_TTL_MS: z.coerce.number().int().min(500).default(5_000),
    /** Ticks written to Postgres per batch (one transaction: ticks + 1m bars + roll-ups). */
    MARKET_TICK_BATCH_SIZE: positiveInt.default(5_000),
    /** Longest a published tick waits in the write buffer before a batch is flushed. */
    MARKET_TICK_FLUSH_MS: positiveInt.default(250),
    /** Ticks held in memory while Postgres is slow or down; beyond this, new ticks are dropped (and counted). */
    MARKET_TICK_BUFFER_MAX: positiveInt.default(200_000),
    /** Days of raw ticks kept; older daily partitions are dropped (bars are kept). */
    MARKET_TICK_RETENTION_DAYS: positiveInt.default(30),
    /** Daily tick partitions created ahead of today. */
    MARKET_TICK_PARTITIONS_AHEAD: z.coerce.number().int().min(0).max(60).default(3),
    /** How often partitions are created ahead and old ones dropped. */
    MARKET_MAINTENANCE_INTERVAL_MS: positiveInt.default(3_600_000),

    /** Whether this trading replica runs the execution engine (competes for symbol locks, fills resting orders). */
    TRADING_ENGINE_ENABLED: bool.default(true),
    /** Symbol lock lifetime; the owner renews every third of it, another replica takes a symbol over after it. */
    TRADING_ENGINE_LOCK_TTL_MS: z.coerce.number().int().min(500).default(5_000),
    /** Slippage of market (and triggered stop) fills: fixed basis points away from the bid/ask. */
    TRADING_SLIPPAGE_BPS: decimalString.default('0'),
    /** Extra slippage, in basis points per multiple of the tick's trade size the fill takes (market impact). */
    TRADING_SLIPPAGE_IMPACT_BPS: decimalString.default('0'),
    /** Quantity one order may fill per tick, as a multiple of the tick's trade size; 0: unlimited liquidity. */
    TRADING_LIQUIDITY_FACTOR: z.coerce.number().min(0).default(0),
    /** Commission in basis points of each fill's notional (charged in the cash ledger as `fee`). */
    TRADING_FEE_BPS: decimalString.default('0'),
    /** Smallest commission of a fill (when TRADING_FEE_BPS > 0). */
    TRADING_FEE_MIN: decimalString.default('0'),
    /** Cash held against short positions, as a multiple of their cost (1.5: proceeds plus 50 % margin). */
    TRADING_SHORT_MARGIN_RATE: decimalString.default('1.5'),
    /** When DAY orders expire, HH:MM in UTC (20:00 is 4 pm in New York during daylight saving time). */
    TRADING_DAY_END_UTC: z
      .string()
      .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM')
      .default('20:00'),
    /** Market orders need a quote at most this old (ms); 0 accepts any age. */
    TRADING_MAX_QUOTE_AGE_MS: z.coerce.number().int().min(0).default(300_000),
    /** How often the engine expires due DAY orders. */
    TRADING_EXPIRY_INTERVAL_MS: positiveInt.default(5_000),
    /** Approximate length the `trading:trades` Redis stream is trimmed to. */
    TRADING_TRADE_STREAM_MAXLEN: positiveInt.default(1_000_000),
    /** How often the instrument catalog (from market-data) is refreshed. */
    TRADING_CATALOG_REFRESH_MS: positiveInt.default(60_000),
    /** Account transactions the engine runs at once when a tick crosses resting orders of many accounts. */
    TRADING_FILL_CONCURRENCY: positiveInt.default(8),
    /**
     * Placement transactions one replica runs at once (all accounts together). Submissions waiting for
     * one gather into the account's next batch; about twice the database's cores keeps it busy.
     */
    TRADING_PLACEMENT_CONCURRENCY: positiveInt.default(4),
    /**
     * Submissions that may wait in one account's placement queue (per replica); beyond it a placement is
     * refused with RATE_LIMITED and nothing is stored.
     */
    TRADING_ACCOUNT_QUEUE_MAX: positiveInt.default(200),
    /**
     * Pooled connections (of DB_POOL_MAX) one tenant's transactions may hold at once on a replica,
     * placements, fills and reads alike; further ones wait for one of them to finish.
     */
    TRADING_TENANT_MAX_CONNECTIONS: positiveInt.default(5),
    /** Lifetime of the real-time cache keys (`trading:positions|account|last-trade:*`), renewed on write. */
    TRADING_REALTIME_CACHE_TTL_SECONDS: positiveInt.default(604_800),

    /** Annual risk-free rate (0.04 = 4 %) used by Sharpe, Sortino and alpha; daily rate = annual / 252. */
    ANALYTICS_RISK_FREE_RATE: z.coerce.number().min(-1).max(1).default(0),
    /** Instrument whose daily closes are the benchmark of alpha and beta. */
    ANALYTICS_BENCHMARK_SYMBOL: z.string().min(1).default('SPY'),
    /** How long a computed report stays cached in Redis (invalidated earlier by a trade of the account). */
    ANALYTICS_CACHE_TTL_SECONDS: positiveInt.default(300),
    /** Whether this replica runs the periodic equity snapshotter (one run at a time across replicas). */
    ANALYTICS_SNAPSHOTS_ENABLED: bool.default(true),
    /** How often equity snapshots are taken (an intraday row each time; the day's daily row is updated). */
    ANALYTICS_SNAPSHOT_INTERVAL_MS: positiveInt.default(300_000),
    /**
     * Least time between two snapshots of one account taken after its trades (a burst of trades gives
     * one snapshot at once and one after the burst); 0 snapshots after every trade.
     */
    ANALYTICS_TRADE_SNAPSHOT_INTERVAL_MS: z.coerce.number().int().min(0).default(1_000),
    /** Whether intraday snapshot rows are kept (daily rows are always written). */
    ANALYTICS_INTRADAY_SNAPSHOTS: bool.default(true),
    /** Whether this replica consumes trading's trade stream (consumer group `analytics`). */
    ANALYTICS_TRADE_CONSUMER_ENABLED: bool.default(true),
    /** Window of the rolling volatility series, in daily returns. */
    ANALYTICS_ROLLING_WINDOW_DAYS: z.coerce.number().int().min(2).default(21),
    /** Daily returns (most recent) that historical VaR and expected shortfall look back on. */
    ANALYTICS_VAR_LOOKBACK_DAYS: z.coerce.number().int().min(2).default(500),
    /**
     * Deliveries of one trade stream entry whose handling keeps failing before it is moved to the
     * dead-letter stream (`trading:trades:dead`) and acknowledged.
     */
    ANALYTICS_TRADE_STREAM_MAX_DELIVERIES: positiveInt.default(5),
    /** Idle time (ms) before a failed trade stream entry is delivered again (to this or another replica). */
    ANALYTICS_TRADE_STREAM_RETRY_MS: positiveInt.default(5000),
    /**
     * Wait (ms) after handling a page of trade stream entries before reading the next, so the next is
     * handled in fewer transactions (one per tenant); reports lag trades by up to this much more. 0: none.
     */
    ANALYTICS_TRADE_STREAM_BATCH_WAIT_MS: z.coerce.number().int().min(0).max(5000).default(100),

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
 * Validates an environment into a {@link Config}.
 * @param env variables to read; defaults to `process.env` (plus `.env` at the project root when present)
 */
export function loadConfig(env: Record<string, string | undefined> = readProcessEnv()): Config {
  const parsed = schema.safeParse(stripEmpty(env));
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const c = parsed.data;
  if (c.MA130_HOST_KEY_SHA256 === undefined && c.MA130_HOST_PUBLIC_KEY_PATH !== undefined) {
    const file = path.resolve(PROJECT_ROOT, c.MA130_HOST_PUBLIC_KEY_PATH);
    try {
      c.MA130_HOST_KEY_SHA256 = sshFingerprint(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError([
        `MA130_HOST_PUBLIC_KEY_PATH: cannot read an OpenSSH public key from ${file} (${err instanceof Error ? err.message : String(err)})`,
      ]);
    }
  }
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
    marketDataUrl: c.MARKET_DATA_URL ?? local(c.MARKET_DATA_PORT),
    tradingUrl: c.TRADING_URL ?? local(c.TRADING_PORT),
    analyticsUrl: c.ANALYTICS_URL ?? local(c.ANALYTICS_PORT),
    jwksUrl: c.JWKS_URL ?? `${authUrl}/.well-known/jwks.json`,
    // Test files start workers in parallel, so a fixed default port would collide there.
    tenantsWorkerPort: c.TENANTS_WORKER_PORT ?? (c.NODE_ENV === 'test' ? 0 : 8103),
  });
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

/**
 * `SHA256:<base64 without padding>` of an OpenSSH public key line (`<type> <base64> [comment]`), as
 * `ssh-keygen -lf` prints it: the form MA130_HOST_KEY_SHA256 pins.
 */
export function sshFingerprint(publicKeyLine: string): string {
  const blob = publicKeyLine.trim().split(/\s+/)[1];
  if (!blob) throw new Error('not an OpenSSH public key line');
  const digest = createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
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
