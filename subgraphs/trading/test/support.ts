/**
 * Test support of the trading subgraph: a namespace (createTestEnv) with a trading port, tenants
 * provisioned by the tenants worker's own provisioning function (real role, schema, template
 * migrations and paper-account seed), tokens signed with a local key, the service started in-process
 * with a fixed instrument catalog, and scripted ticks fed straight into the engine (no randomness).
 */
import { createClient, type Client } from 'graphql-ws';
import type { JWTVerifyGetKey } from 'jose';
import type pg from 'pg';
import type { Role } from '../../../lib/auth.js';
import { createPool } from '../../../lib/db.js';
import { adminUrlOf, createTestEnv, createTestPool, type TestEnv } from '../../../test/support/env.js';
import { ingressWebSocket } from '../../../test/support/ingress.js';
import { createTestProvisioner, paperAccountOf } from '../../../test/support/tenants.js';
import { createTestSigner } from '../../../test/support/tokens.js';
import type { TradingConfig } from '../src/config.js';
import type { InstrumentInfo } from '../src/market/instrument.catalog.js';
import { StaticInstrumentSource } from '../src/market/instrument.catalog.js';
import type { MarketTick } from '../src/market/market-tick.js';
import { createTradingService, type TradingDeps, type TradingService } from '../src/service.js';

export { subgraphGql as gql, type GraphQLResult } from '../../../test/support/graphql.js';

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
  service(deps?: TradingDeps, overrides?: Partial<TradingConfig>): TradingService;
  cleanup(): Promise<void>;
}

/** A namespace with one trading service started in it (stop the service, then clean the env). */
export interface StartedTrading {
  env: TradingTestEnv;
  svc: TradingService;
  url: string;
}

/** {@link createTradingTestEnv} with `overrides`, then a trading service built with `deps`, started. */
export async function startTrading(
  name: string,
  overrides: Record<string, string> = {},
  deps: TradingDeps = {},
): Promise<StartedTrading> {
  const env = await createTradingTestEnv(name, overrides);
  const svc = env.service(deps);
  const { url } = await svc.start();
  return { env, svc, url };
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
  const signer = await createTestSigner(config, 'trading-test');
  const jwks = signer.jwks;
  const admin = createTestPool(adminUrlOf(config), 3);
  const ownerPool = createPool(config, config.DATABASE_OWNER_URL, 'trading-test-owner');
  const appPool = createPool(config, config.DATABASE_URL, 'trading-test-app');
  const provisioning = createTestProvisioner(config, { ownerPool, appPool }, 'trading-test');

  return {
    ...env,
    jwks,
    admin,
    async tenant() {
      const t = await provisioning.provision();
      return { ...t, accountId: await paperAccountOf(admin, t.schemaName) };
    },
    token(t, opts = {}) {
      return signer.sign({ ...opts, tenantId: t.tenantId, email: 'trader@example.test' });
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
    webSocketImpl: ingressWebSocket(),
    retryAttempts: 0,
    lazy: true,
    connectionParams: { authorization: `Bearer ${token}` },
  });
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
