/**
 * Per-test-file namespaces: a database of its own (bootstrapped and migrated), a Redis key prefix,
 * a BullMQ prefix, a JWT key folder and free ports. Nothing is shared between files, so they run in
 * parallel; `cleanup()` drops what the file created.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { processEnv, type Config } from '../../lib/config.js';
import { dropDatabase, initDatabase } from '../../lib/db-bootstrap.js';
import { PLATFORM_MIGRATIONS } from '../../schema/platform-migrations.js';
import { loadPlatformConfig, type PlatformConfig } from '../../scripts/platform-config.js';
import { useIngressOf } from './ingress.js';

/** A test namespace's configuration: the kernel and every subgraph's section. */
export type TestConfig = PlatformConfig;

export interface TestEnv {
  config: TestConfig;
  /** Short unique name of this namespace. */
  namespace: string;
  tmpDir: string;
  cleanup(): Promise<void>;
}

/** Below Linux's ephemeral range (32768-60999), so outgoing connections never take these ports. */
const PORT_MIN = 20_000;
const PORT_MAX = 32_000;

function tryListen(port: number): Promise<net.Server | undefined> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(undefined));
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

/**
 * Ports that were free a moment ago. Chosen at random below the ephemeral range: a port handed out by
 * the kernel for port 0 could be taken by any outgoing connection (to Postgres, Redis...) before the
 * service under test binds it, which made parallel test files collide.
 */
export async function freePorts(n: number): Promise<number[]> {
  const held: net.Server[] = [];
  while (held.length < n) {
    const port = PORT_MIN + Math.floor(Math.random() * (PORT_MAX - PORT_MIN));
    const s = await tryListen(port);
    if (s) held.push(s);
  }
  const ports = held.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/**
 * Creates the namespace of one test file.
 * @param name short label (letters, digits, underscores), e.g. the test file's subject
 * @param overrides extra configuration variables
 */
export async function createTestEnv(name: string, overrides: Record<string, string> = {}): Promise<TestEnv> {
  const namespace = `${name}_${randomBytes(4).toString('hex')}`.toLowerCase();
  const tmpDir = await mkdtemp(path.join(os.tmpdir(), `tradesage-${namespace}-`));
  const [gateway, auth, sessions, tenants, trading, marketData, analytics] = await freePorts(7);
  const base = processEnv();
  // TEST_DATABASE_VIA (host:port of a PgBouncer, TLS verified against TEST_DATABASE_CA): the services'
  // connections go through it, as in `make cluster`; the superuser's stay direct. From the environment
  // (a child vitest) or from `overrides` (a test that starts its own PgBouncer).
  const via = overrides['TEST_DATABASE_VIA'] ?? base['TEST_DATABASE_VIA'];
  const ca = overrides['TEST_DATABASE_CA'] ?? base['TEST_DATABASE_CA'] ?? '';
  const tls = `sslmode=verify-full&sslrootcert=${encodeURIComponent(ca)}`;
  const dbUrl = (role: string, db: string): string =>
    via ? `postgres://${role}@${via}/${db}?${tls}` : `postgres://${role}@127.0.0.1:5432/${db}`;
  const database = `ts_test_${namespace}`;
  const config = loadPlatformConfig({
    ...base,
    NODE_ENV: 'test',
    LOG_LEVEL: base['TEST_LOG_LEVEL'] ?? 'silent',
    DATABASE_URL: dbUrl('tradesage_app', database),
    DATABASE_OWNER_URL: dbUrl('tradesage_owner', database),
    DATABASE_ADMIN_URL: base['TEST_DATABASE_ADMIN_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    DB_POOL_MAX: '5',
    REDIS_PREFIX: `test:${namespace}:`,
    BULLMQ_PREFIX: `test-bull-${namespace}`,
    SERVICE_TOKEN: randomBytes(32).toString('hex'),
    JWT_KEYS_DIR: path.join(tmpDir, 'jwt'),
    GATEWAY_PORT: String(gateway),
    AUTH_PORT: String(auth),
    SESSIONS_PORT: String(sessions),
    TENANTS_PORT: String(tenants),
    TRADING_PORT: String(trading),
    MARKET_DATA_PORT: String(marketData),
    ANALYTICS_PORT: String(analytics),
    SUPERGRAPH_WATCH: 'false',
    JOB_BACKOFF_MS: '200',
    // Every test registers and creates tenants from loopback; tests of these limits set their own.
    REGISTER_THROTTLE_PER_IP: '100000',
    TENANT_CREATE_THROTTLE_PER_IP: '100000',
    // No schemas built ahead: every worker a test starts would otherwise build TENANT_POOL_SIZE of them
    // in the background. The pool's tests turn it on.
    TENANT_POOL_SIZE: '0',
    // Nor trading connections held open: test files start many trading services side by side.
    TRADING_DB_POOL_WARM: '0',
    // Tests send requests back to back from one loopback IP: the gateway's burst limit (20 requests
    // a second per IP by default) is off; the rate-limit tests set their own.
    RATE_LIMIT_BURST_FACTOR: '0',
    // Refused answers leave at once: tests of limits send many refused requests; the pacing test sets it.
    GATEWAY_REFUSAL_DELAY_MS: '0',
    // Test files send many distinct documents as one user within a minute; the limit's test sets it.
    GATEWAY_NEW_DOCUMENTS_PER_CALLER: '100000',
    ...overrides,
  });
  await initDatabase(config, PLATFORM_MIGRATIONS);
  useIngressOf(config);
  return {
    config,
    namespace,
    tmpDir,
    async cleanup() {
      await dropDatabase(config).catch(() => undefined);
      const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 3 });
      try {
        for (const pattern of [`${config.REDIS_PREFIX}*`, `${config.BULLMQ_PREFIX}:*`]) {
          let cursor = '0';
          do {
            const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
            cursor = next;
            if (keys.length > 0) await redis.del(...keys);
          } while (cursor !== '0');
        }
      } finally {
        redis.disconnect();
      }
      await rm(tmpDir, { recursive: true, force: true });
    },
  };
}

/** Superuser URL of a namespace's database (catalog checks and reads that bypass row-level security). */
export function adminUrlOf(config: Config): string {
  const u = new URL(config.DATABASE_ADMIN_URL);
  u.pathname = new URL(config.DATABASE_URL).pathname;
  return u.toString();
}

/**
 * A plain pg pool for a test's own queries (superuser checks, app-role transactions), with the `error`
 * listeners lib/db.ts's createPool gives the services' pools. They matter at teardown: `pool.end()`
 * resolves once it has asked its idle connections to close, not once they have, so the
 * `DROP DATABASE ... WITH (FORCE)` of `cleanup()` can still terminate one of them. Its 57P01 then
 * arrives as an `error` event, which pg-pool re-emits on the pool: with no listener there, an uncaught
 * exception that failed a whole vitest run.
 */
export function createTestPool(connectionString: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString, max });
  // Idle (and ending) clients report to the pool; a checked-out client's error rejects its query.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}
