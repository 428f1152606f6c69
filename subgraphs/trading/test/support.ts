/**
 * Test support of the trading subgraph: a namespace (createTestEnv) with a trading port, tenants
 * provisioned by the tenants worker's own provisioning function (real role, schema, template
 * migrations and paper-account seed), tokens signed with a local key, the service started in-process
 * with a fixed instrument catalog, and scripted ticks fed straight into the engine (no randomness).
 */
import { randomUUID } from 'node:crypto';
import { createClient, type Client } from 'graphql-ws';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type JWTVerifyGetKey } from 'jose';
import pg from 'pg';
import WebSocket from 'ws';
import type { Role } from '../../../lib/auth.js';
import type { Config } from '../../../lib/config.js';
import { createPool, tenantSchemaName } from '../../../lib/db.js';
import { createLogger } from '../../../lib/logger.js';
import { createTestEnv, type TestEnv } from '../../../test/support/env.js';
import { Provisioner } from '../../tenants/src/jobs/provision.job.js';
import { TenantRepository } from '../../tenants/src/tenant.repository.js';
import { TemplateRegistry } from '../../tenants/src/template.registry.js';
import type { InstrumentInfo } from '../src/market/instrument.catalog.js';
import { StaticInstrumentSource } from '../src/market/instrument.catalog.js';
import type { MarketTick } from '../src/market/market-tick.js';
import { createTradingService, type TradingDeps, type TradingService } from '../src/service.js';

/** The fixed catalog of the tests. */
export const INSTRUMENTS: InstrumentInfo[] = [
  { symbol: 'AAPL', name: 'Apple Inc.', currency: 'USD', tickSize: '0.01', lotSize: '1', tradable: true },
  { symbol: 'MSFT', name: 'Microsoft', currency: 'USD', tickSize: '0.01', lotSize: '1', tradable: true },
  { symbol: 'TSLA', name: 'Tesla', currency: 'USD', tickSize: '0.01', lotSize: '1', tradable: true },
  { symbol: 'BTCUSD', name: 'Bitcoin', currency: 'USD', tickSize: '0.01', lotSize: '0.0001', tradable: true },
  { symbol: 'EURUSD', name: 'Euro', currency: 'USD', tickSize: '0.00001', lotSize: '1000', tradable: true },
  { symbol: 'USDJPY', name: 'Yen', currency: 'JPY', tickSize: '0.001', lotSize: '1000', tradable: true },
  { symbol: 'OLDCO', name: 'Delisted', currency: 'USD', tickSize: '0.01', lotSize: '1', tradable: false },
];

export interface Tenant {
  tenantId: string;
  schemaName: string;
  ownerId: string;
  accountId: string;
}

export interface GraphQLResult<T> {
  status: number;
  data?: T | null;
  errors?: { message: string; path?: unknown[]; extensions?: { code?: string } & Record<string, unknown> }[];
}

/** A controllable clock (epoch ms). */
export interface Clock {
  now(): number;
  set(ms: number): void;
  advance(ms: number): void;
}

export function createClock(start = Date.now()): Clock {
  let t = start;
  return {
    now: () => t,
    set: (ms) => {
      t = ms;
    },
    advance: (ms) => {
      t += ms;
    },
  };
}

export interface TradingTestEnv extends TestEnv {
  jwks: JWTVerifyGetKey;
  /** Superuser pool on the test database (checks that bypass every scope). */
  admin: pg.Pool;
  /** A tenant provisioned with the tenants worker's provisioning function (paper account included). */
  tenant(): Promise<Tenant>;
  token(
    t: Pick<Tenant, 'tenantId'>,
    opts?: { role?: Role; userId?: string; platformAdmin?: boolean },
  ): Promise<string>;
  /** Creates (not starts) a trading service with the test catalog, local keys and no liveness check. */
  service(deps?: TradingDeps, overrides?: Partial<Config>): TradingService;
  cleanup(): Promise<void>;
}

/** createTestEnv plus a trading port, signing key and provisioning. */
export async function createTradingTestEnv(
  name: string,
  overrides: Record<string, string> = {},
): Promise<TradingTestEnv> {
  // Port 0: the service binds any free port (start() returns its URL), so nothing can take it first.
  const env = await createTestEnv(name, {
    TRADING_PORT: '0',
    TRADING_EXPIRY_INTERVAL_MS: '3600000',
    ...overrides,
  });
  const config = env.config;
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'trading-test', alg: 'EdDSA' };
  const jwks = createLocalJWKSet({ keys: [jwk] });
  const adminUrl = new URL(config.DATABASE_ADMIN_URL);
  adminUrl.pathname = new URL(config.DATABASE_URL).pathname;
  const admin = new pg.Pool({ connectionString: adminUrl.toString(), max: 3 });
  const ownerPool = createPool(config, config.DATABASE_OWNER_URL, 'trading-test-owner');
  const appPool = createPool(config, config.DATABASE_URL, 'trading-test-app');
  const repo = new TenantRepository(appPool);
  const provisioner = new Provisioner({
    config,
    ownerPool,
    appPool,
    repo,
    templates: new TemplateRegistry(config.TENANT_TEMPLATES_DIR),
    logger: createLogger(config, 'trading-test'),
  });

  return {
    ...env,
    jwks,
    admin,
    async tenant() {
      const tenantId = randomUUID();
      const ownerId = randomUUID();
      const schemaName = tenantSchemaName(tenantId);
      await repo.createWithOwner(
        { id: tenantId, organizationName: `Org ${tenantId.slice(0, 8)}`, template: 'trading', schemaName },
        ownerId,
      );
      await provisioner.provision(tenantId, () => Promise.resolve());
      const account = await admin.query<{ id: string }>(`SELECT id FROM "${schemaName}".accounts LIMIT 1`);
      const accountId = account.rows[0]?.id;
      if (!accountId) throw new Error('provisioning left no paper account');
      return { tenantId, schemaName, ownerId, accountId };
    },
    token(t, opts = {}) {
      return new SignJWT({
        sid: randomUUID(),
        tid: t.tenantId,
        role: opts.role ?? 'OWNER',
        adm: opts.platformAdmin ?? false,
        email: 'trader@example.test',
      })
        .setProtectedHeader({ alg: 'EdDSA', kid: 'trading-test' })
        .setSubject(opts.userId ?? randomUUID())
        .setIssuer(config.JWT_ISSUER)
        .setAudience(config.JWT_AUDIENCE)
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(privateKey);
    },
    service(deps = {}, configOverrides = {}) {
      return createTradingService(
        { ...config, ...configOverrides },
        { jwks, sessions: null, instruments: new StaticInstrumentSource(INSTRUMENTS), ...deps },
      );
    },
    async cleanup() {
      await Promise.all([admin.end(), ownerPool.end(), appPool.end()]).catch(() => undefined);
      await env.cleanup();
    },
  };
}

/** Posts a GraphQL operation to a subgraph. */
export async function gql<T = Record<string, unknown>>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
): Promise<GraphQLResult<T>> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, ...((await res.json()) as Omit<GraphQLResult<T>, 'status'>) };
}

let seq = 0;

/**
 * A scripted tick. `bid`/`ask` default to `price` minus/plus one cent.
 * @param ts feed time (default: now)
 */
export function tick(
  symbol: string,
  price: string,
  opts: { bid?: string; ask?: string; size?: string; ts?: number } = {},
): MarketTick {
  const p = Number(price);
  const decimals = price.includes('.') ? (price.split('.')[1]?.length ?? 2) : 2;
  return {
    symbol,
    price,
    bid: opts.bid ?? (p - 0.01).toFixed(decimals),
    ask: opts.ask ?? (p + 0.01).toFixed(decimals),
    size: opts.size ?? '100',
    ts: opts.ts ?? Date.now(),
    seq: ++seq,
  };
}

/** A graphql-ws client of a trading service. */
export function wsClient(url: string, token: string): Client {
  return createClient({
    url: `${url.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    connectionParams: { authorization: `Bearer ${token}` },
  });
}

/** Polls `fn` until it returns a value other than undefined (or throws after `timeoutMs`). */
export async function waitFor<T>(
  fn: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export const ORDER_FIELDS = `id accountId clientOrderId symbol side type timeInForce quantity limitPrice stopPrice status
  filledQuantity remainingQuantity averageFillPrice rejectReason rejectMessage triggered expiresAt createdAt`;

export const PLACE = `mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { ${ORDER_FIELDS} } }`;

export interface OrderView {
  id: string;
  accountId: string;
  clientOrderId: string;
  symbol: string;
  side: string;
  type: string;
  timeInForce: string;
  quantity: string;
  limitPrice: string | null;
  stopPrice: string | null;
  status: string;
  filledQuantity: string;
  remainingQuantity: string;
  averageFillPrice: string | null;
  rejectReason: string | null;
  rejectMessage: string | null;
  triggered: boolean;
  expiresAt: string | null;
  createdAt: string;
}
