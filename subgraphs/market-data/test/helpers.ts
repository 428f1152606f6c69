/** Shared helpers of the market-data tests: a test env with a market-data port, tokens, tick factories. */
import { createTestEnv, freePorts, type TestEnv } from '../../../test/support/env.js';
import { openAuthKeySigner, type AuthKeySigner } from '../../../test/support/tokens.js';
import { createMarketDataService, type MarketDataDeps, type MarketDataService } from '../src/service.js';
import type { Tick } from '../../../contracts/market-tick.js';

export { subgraphGql as gql } from '../../../test/support/graphql.js';

export interface MarketTestEnv extends TestEnv {
  keys: AuthKeySigner;
  /** A fresh access token for a TRADER of some tenant. */
  token(overrides?: { ttlSeconds?: number }): Promise<string>;
  /** Creates (not starts) a market-data service with test keys and no session liveness check. */
  service(deps?: MarketDataDeps, port?: number): MarketDataService;
}

/** createTestEnv plus a market-data port (createTestEnv allocates none) and a signing key. */
export async function createMarketTestEnv(
  name: string,
  overrides: Record<string, string> = {},
): Promise<MarketTestEnv> {
  const [port] = await freePorts(1);
  const env = await createTestEnv(name, {
    MARKET_DATA_PORT: String(port),
    MARKET_MAINTENANCE_INTERVAL_MS: '3600000',
    ...overrides,
  });
  const keys = await openAuthKeySigner(env.config);
  return {
    ...env,
    keys,
    token: (o = {}) =>
      keys.sign({
        role: 'TRADER',
        email: 'trader@example.test',
        ...(o.ttlSeconds ? { ttlSeconds: o.ttlSeconds } : {}),
      }),
    service(deps = {}, p) {
      const config = p === undefined ? env.config : { ...env.config, MARKET_DATA_PORT: p };
      return createMarketDataService(config, { jwks: keys.jwks, sessions: null, ...deps });
    },
    async cleanup() {
      keys.close();
      await env.cleanup();
    },
  };
}

/** A tick with defaults (AAPL). */
export function tick(ts: number, price: string, size: string, over: Partial<Tick> = {}): Tick {
  return { symbol: 'AAPL', price, bid: price, ask: price, size, ts, seq: ts, producer: 'test', ...over };
}
