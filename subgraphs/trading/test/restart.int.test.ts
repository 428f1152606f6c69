/**
 * The engine's index is a cache of the database: resting orders survive a restart (graceful or a
 * crash, after which another replica takes the symbols over once the leases expire) and fill when the
 * price crosses; a replica without the engine hands its resting orders to the replica that owns the
 * symbol; ticks arrive over Redis pub/sub in market-data's format.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channels } from '../../../contracts/redis-names.js';
import { encodeMarketTick } from '../src/market/market-tick.js';
import type { TradingService } from '../src/service.js';
import {
  createTradingTestEnv,
  gql,
  PLACE,
  tick,
  type OrderView,
  type Tenant,
  type TradingTestEnv,
} from './support.js';
import { eventually } from '../../../test/support/wait.js';

let env: TradingTestEnv;
let redis: Redis;
const services: TradingService[] = [];
let n = 0;

beforeAll(async () => {
  env = await createTradingTestEnv('trading_restart', { TRADING_ENGINE_LOCK_TTL_MS: '1000' });
  redis = new Redis(env.config.REDIS_URL);
});

afterAll(async () => {
  for (const s of services) await s.stop().catch(() => undefined);
  redis?.disconnect();
  await env?.cleanup();
});

async function start(
  instanceId: string,
  overrides: Record<string, unknown> = {},
): Promise<{ svc: TradingService; url: string }> {
  // Port 0: replicas run side by side.
  const svc = env.service({ instanceId }, { TRADING_PORT: 0, ...overrides });
  services.push(svc);
  const { url } = await svc.start();
  return { svc, url };
}

async function place(
  url: string,
  t: Tenant,
  token: string,
  input: Record<string, unknown>,
): Promise<OrderView> {
  const r = await gql<{ placeOrder: OrderView }>(
    url,
    PLACE,
    { input: { accountId: t.accountId, clientOrderId: `r-${++n}`, timeInForce: 'GTC', ...input } },
    token,
  );
  if (!r.data?.placeOrder) throw new Error(JSON.stringify(r.errors));
  return r.data.placeOrder;
}

async function statusOf(t: Tenant, id: string): Promise<{ status: string; filled: string }> {
  const r = await env.admin.query<{ status: string; filled: string }>(
    `SELECT status, filled_quantity::text AS filled FROM "${t.schemaName}".orders WHERE id = $1`,
    [id],
  );
  return r.rows[0] ?? { status: 'MISSING', filled: '0' };
}

/** Publishes a tick the way market-data does. */
function publish(symbol: string, price: string): Promise<number> {
  return redis.publish(
    channels.marketTicks(env.config.REDIS_PREFIX, symbol),
    encodeMarketTick(tick(symbol, price)),
  );
}

describe('restart', () => {
  it('a graceful restart loses no resting order, and they fill when the price crosses', async () => {
    const a = await env.tenant();
    const b = await env.tenant();
    const [ta, tb] = await Promise.all([env.token(a), env.token(b)]);
    const first = await start('replica-1');
    await first.svc.runtime().engine!.ingest(tick('AAPL', '100.00'));
    await first.svc.runtime().engine!.ingest(tick('MSFT', '400.00'));
    const resting = [
      [
        a,
        await place(first.url, a, ta, {
          symbol: 'AAPL',
          side: 'BUY',
          type: 'LIMIT',
          quantity: '3',
          limitPrice: '99',
        }),
      ],
      [
        b,
        await place(first.url, b, tb, {
          symbol: 'AAPL',
          side: 'BUY',
          type: 'LIMIT',
          quantity: '4',
          limitPrice: '98.50',
        }),
      ],
      [
        a,
        await place(first.url, a, ta, {
          symbol: 'MSFT',
          side: 'BUY',
          type: 'STOP',
          quantity: '1',
          stopPrice: '405',
        }),
      ],
      [
        b,
        await place(first.url, b, tb, {
          symbol: 'AAPL',
          side: 'BUY',
          type: 'LIMIT',
          quantity: '1',
          limitPrice: '90',
          timeInForce: 'DAY',
        }),
      ],
    ] as const;
    for (const [, o] of resting) expect(o.status).toBe('NEW');
    await first.svc.stop();

    const second = await start('replica-2');
    const engine = second.svc.runtime().engine!;
    expect(engine.restingCount()).toBe(4);
    await engine.ingest(tick('AAPL', '98.40', { bid: '98.39', ask: '98.41' }));
    await engine.ingest(tick('MSFT', '405.00'));
    for (const [t, o] of resting.slice(0, 3)) expect((await statusOf(t, o.id)).status).toBe('FILLED');
    expect((await statusOf(b, resting[3][1].id)).status).toBe('NEW');
    expect(engine.restingCount()).toBe(1);
    await second.svc.stop();
  });

  it('after a crash another replica takes the symbols over when the leases expire, with the orders', async () => {
    const t = await env.tenant();
    const token = await env.token(t);
    const first = await start('replica-3');
    await first.svc.runtime().engine!.ingest(tick('TSLA', '250.00'));
    const o = await place(first.url, t, token, {
      symbol: 'TSLA',
      side: 'SELL',
      type: 'LIMIT',
      quantity: '2',
      limitPrice: '255',
    });
    expect(o.status).toBe('REJECTED'); // no position to sell (short selling is off)
    const buy = await place(first.url, t, token, {
      symbol: 'TSLA',
      side: 'BUY',
      type: 'LIMIT',
      quantity: '2',
      limitPrice: '245',
    });
    await first.svc.crash();

    const second = await start('replica-4');
    const engine = second.svc.runtime().engine!;
    // The crashed replica's leases are still held: nothing owned yet, until they expire (1 s).
    await eventually(() => (engine.owns('TSLA') ? true : undefined), 'TSLA taken over', 5_000);
    expect(engine.restingCount('TSLA')).toBe(1);
    await publish('TSLA', '244.00');
    await eventually(
      async () => ((await statusOf(t, buy.id)).status === 'FILLED' ? true : undefined),
      'fill after takeover',
    );
    await second.svc.stop();
  });
});

describe('replicas', () => {
  it("a replica without the engine announces resting orders to the owner's engine", async () => {
    const t = await env.tenant();
    const token = await env.token(t);
    const owner = await start('replica-5');
    const front = await start('replica-6', { TRADING_ENGINE_ENABLED: false });
    expect(front.svc.runtime().engine).toBeUndefined();
    await owner.svc.runtime().engine!.ingest(tick('AAPL', '100.00'));
    // Earlier tests left a DAY order resting on AAPL (rebuilt into this replica's index).
    const before = owner.svc.runtime().engine!.restingCount('AAPL');
    const o = await place(front.url, t, token, {
      symbol: 'AAPL',
      side: 'BUY',
      type: 'LIMIT',
      quantity: '5',
      limitPrice: '99.10',
    });
    expect(o.status).toBe('NEW');
    await eventually(
      () => (owner.svc.runtime().engine!.restingCount('AAPL') === before + 1 ? true : undefined),
      'announced',
    );
    await publish('AAPL', '99.00');
    await eventually(
      async () => ((await statusOf(t, o.id)).status === 'FILLED' ? true : undefined),
      'filled by the owner',
    );
    // Quotes of symbols this replica does not own come from market-data's quotes hash in Redis.
    const m = await place(front.url, t, token, {
      symbol: 'AAPL',
      side: 'BUY',
      type: 'MARKET',
      quantity: '1',
    });
    expect(m.rejectReason).toBe('NO_MARKET_DATA');
    await redis.hset(
      `${env.config.REDIS_PREFIX}market:quotes`,
      'AAPL',
      encodeMarketTick(tick('AAPL', '99.50')),
    );
    const m2 = await place(front.url, t, token, {
      symbol: 'AAPL',
      side: 'BUY',
      type: 'MARKET',
      quantity: '1',
    });
    expect(m2).toMatchObject({ status: 'FILLED', averageFillPrice: '99.51' });
  });
});
