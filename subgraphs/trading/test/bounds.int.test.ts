/**
 * Resource bounds and fairness with real Postgres and Redis: list fields batched into a bounded number
 * of tenant transactions, placement turns shared round robin between tenants, each tenant's share of
 * the pool, bounded account queues, and TTLs on the real-time cache. Turns are made observable by
 * holding an account row lock from a superuser connection (the batch waiting on it holds its turn or
 * connection) and by a clock that ticks on every read (each batch stamps its orders with its own time).
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

beforeAll(async () => {
  env = await createTradingTestEnv('trading_bounds');
});

afterAll(async () => {
  await env?.cleanup();
});

let n = 0;

async function place(
  url: string,
  t: Tenant,
  token: string,
  input: Record<string, unknown> = {},
): Promise<Awaited<ReturnType<typeof gql<{ placeOrder: OrderView }>>>> {
  return gql<{ placeOrder: OrderView }>(
    url,
    PLACE,
    {
      input: {
        accountId: t.accountId,
        clientOrderId: `b-${++n}`,
        symbol: 'AAPL',
        side: 'BUY',
        type: 'LIMIT',
        limitPrice: '10',
        quantity: '1',
        timeInForce: 'GTC',
        ...input,
      },
    },
    token,
  );
}

/** Holds the account row lock from a superuser connection until `release()`. */
async function lockAccount(t: Tenant): Promise<{ release: () => Promise<void> }> {
  const client: pg.PoolClient = await env.admin.connect();
  await client.query('BEGIN');
  await client.query(`SELECT 1 FROM "${t.schemaName}".accounts WHERE id = $1 FOR UPDATE`, [t.accountId]);
  let held = true;
  return {
    release: async () => {
      if (!held) return;
      held = false;
      try {
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    },
  };
}

/** Waits until `count` backends of this database wait for a lock. */
async function lockWaiters(count: number): Promise<void> {
  await eventually(async () => {
    const r = await env.admin.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    return (r.rows[0]?.n ?? 0) >= count ? true : undefined;
  }, `${count} backend(s) waiting for a lock`);
}

async function counterValue(c: { get(): Promise<{ values: { value: number }[] }> }): Promise<number> {
  return (await c.get()).values.reduce((sum, v) => sum + v.value, 0);
}

describe('batched reads', () => {
  let svc: TradingService;
  let url: string;
  let t: Tenant;
  let token: string;
  const ORDERS = 200;

  beforeAll(async () => {
    svc = env.service();
    ({ url } = await svc.start());
    t = await env.tenant();
    token = await env.token(t);
    await svc.runtime().engine!.ingest(tick('AAPL', '100.00'));
    // Market orders fill at once: each has events and a trade.
    for (let i = 0; i < ORDERS; i += 25) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(25, ORDERS - i) }, () =>
          place(url, t, token, { type: 'MARKET', limitPrice: null }),
        ),
      );
      for (const r of batch) expect(r.data?.placeOrder.status, JSON.stringify(r.errors)).toBe('FILLED');
    }
  }, 120_000);

  afterAll(async () => {
    await svc?.stop();
  });

  const QUERY = `query($id: ID!, $first: Int) { account(id: $id) { id orders(first: $first) {
    id clientOrderId events { id type status } trades { id quantity order { id clientOrderId } } } } }`;

  interface Result {
    account: {
      id: string;
      orders: {
        id: string;
        clientOrderId: string;
        events: { id: string; type: string; status: string }[];
        trades: { id: string; quantity: string; order: { id: string; clientOrderId: string } }[];
      }[];
    };
  }

  async function measured(first: number): Promise<{ transactions: number; data: Result }> {
    const counter = svc.runtime().metrics.tenantTransactions;
    const before = await counterValue(counter);
    const r = await gql<Result>(url, QUERY, { id: t.accountId, first }, token);
    if (!r.data) throw new Error(JSON.stringify(r.errors));
    return { transactions: (await counterValue(counter)) - before, data: r.data };
  }

  it("an account's 200 orders with events, trades and trades' orders take as many transactions as 5 orders", async () => {
    const few = await measured(5);
    const all = await measured(500);
    expect(few.data.account.orders).toHaveLength(5);
    expect(all.data.account.orders).toHaveLength(ORDERS);
    // account, orders, events, trades, trades' orders: one transaction each, whatever the count.
    expect(all.transactions).toBe(few.transactions);
    expect(all.transactions).toBeLessThanOrEqual(5);

    // The same data as the database holds, order by order.
    const events = await env.admin.query<{ order_id: string; id: string; type: string; status: string }>(
      `SELECT e.order_id, e.id::text AS id, e.type, e.status FROM "${t.schemaName}".order_events e ORDER BY e.order_id, e.id`,
    );
    const trades = await env.admin.query<{ order_id: string; id: string; quantity: string }>(
      `SELECT x.order_id, x.id::text AS id, x.quantity::text AS quantity FROM "${t.schemaName}".executions x ORDER BY x.order_id, x.executed_at, x.id`,
    );
    const orders = await env.admin.query<{ id: string; client_order_id: string }>(
      `SELECT id, client_order_id FROM "${t.schemaName}".orders ORDER BY created_at DESC, id DESC`,
    );
    expect(all.data.account.orders.map((o) => o.id)).toEqual(orders.rows.map((o) => o.id));
    for (const o of all.data.account.orders) {
      expect(o.events).toEqual(
        events.rows.filter((e) => e.order_id === o.id).map(({ id, type, status }) => ({ id, type, status })),
      );
      expect(o.events.map((e) => e.type)).toEqual(['ACCEPTED', 'FILLED']);
      const own = trades.rows.filter((e) => e.order_id === o.id);
      expect(o.trades.map((x) => x.id)).toEqual(own.map((x) => x.id));
      expect(o.trades.map((x) => Number(x.quantity))).toEqual(own.map((x) => Number(x.quantity)));
      for (const x of o.trades) expect(x.order).toEqual({ id: o.id, clientOrderId: o.clientOrderId });
    }
  });

  it('entity references (the gateway sends many at once) are resolved in one transaction', async () => {
    const ids = (
      await env.admin.query<{ id: string }>(`SELECT id FROM "${t.schemaName}".orders ORDER BY created_at, id`)
    ).rows.map((r) => r.id);
    const representations = [
      ...ids.map((id) => ({ __typename: 'Order', id })),
      { __typename: 'Order', id: randomUUID() },
      { __typename: 'Order', id: 'not-a-uuid' },
    ];
    const counter = svc.runtime().metrics.tenantTransactions;
    const before = await counterValue(counter);
    const r = await gql<{ _entities: ({ id: string } | null)[] }>(
      url,
      `query($r: [_Any!]!) { _entities(representations: $r) { ... on Order { id } } }`,
      { r: representations },
      token,
    );
    expect(r.errors).toBeUndefined();
    expect(r.data?._entities).toEqual([...ids.map((id) => ({ id })), null, null]);
    expect((await counterValue(counter)) - before).toBe(1);
  });

  it('cache keys carry a TTL, and a positions hash that expired comes back whole', async () => {
    const redis = new Redis(env.config.REDIS_URL, { keyPrefix: env.config.REDIS_PREFIX });
    try {
      const suffix = `${t.tenantId}:${t.accountId}`;
      const ttl = env.config.TRADING_REALTIME_CACHE_TTL_SECONDS;
      for (const key of [
        `trading:positions:${suffix}`,
        `trading:account:${suffix}`,
        `trading:last-trade:${suffix}`,
      ]) {
        const left = await redis.ttl(key);
        expect(left, key).toBeGreaterThan(0);
        expect(left, key).toBeLessThanOrEqual(ttl);
      }
      // As if it had expired: the next change of positions writes every position, not only the changed one.
      await redis.del(`trading:positions:${suffix}`);
      await svc.runtime().engine!.ingest(tick('MSFT', '200.00'));
      const r = await place(url, t, token, { symbol: 'MSFT', type: 'MARKET', limitPrice: null });
      expect(r.data?.placeOrder.status).toBe('FILLED');
      const cached = await redis.hgetall(`trading:positions:${suffix}`);
      expect(Object.keys(cached).sort()).toEqual(['AAPL', 'MSFT']);
      expect(JSON.parse(cached['AAPL'] ?? '{}')).toMatchObject({ quantity: String(ORDERS) });
    } finally {
      redis.disconnect();
    }
  });
  it('positions of many instruments (a list from market-data) are read in one transaction', async () => {
    const counter = svc.runtime().metrics.tenantTransactions;
    const before = await counterValue(counter);
    const r = await gql<{ _entities: { symbol: string; position: { quantity: string } | null }[] }>(
      url,
      `query($r: [_Any!]!, $account: ID) { _entities(representations: $r) {
        ... on Instrument { symbol position(accountId: $account) { quantity } } } }`,
      { r: ['AAPL', 'MSFT', 'TSLA'].map((symbol) => ({ __typename: 'Instrument', symbol })) },
      token,
    );
    expect(r.errors).toBeUndefined();
    expect(r.data?._entities).toEqual([
      { symbol: 'AAPL', position: { quantity: String(ORDERS) } },
      { symbol: 'MSFT', position: { quantity: '1' } },
      { symbol: 'TSLA', position: null },
    ]);
    expect((await counterValue(counter)) - before).toBe(1);
  });
});

/** A service of its own with these settings, started, and two fresh tenants. */
async function startWithTwoTenants(
  deps: Parameters<TradingTestEnv['service']>[0],
  overrides: Parameters<TradingTestEnv['service']>[1],
): Promise<{ svc: TradingService; url: string; a: Tenant; b: Tenant }> {
  const svc = env.service(deps, overrides);
  const { url } = await svc.start();
  const [a, b] = await Promise.all([env.tenant(), env.tenant()]);
  return { svc, url, a, b };
}

describe('placement turns and queues (one placement transaction at a time)', () => {
  let svc: TradingService;
  let url: string;
  let a: Tenant;
  let b: Tenant;
  let clock = Date.parse('2030-03-04T15:00:00Z');

  beforeAll(async () => {
    // Every read of the clock moves it on, so each batch stamps its orders with a time of its own.
    ({ svc, url, a, b } = await startWithTwoTenants(
      { now: () => ++clock },
      { TRADING_PLACEMENT_CONCURRENCY: 1, TRADING_ACCOUNT_QUEUE_MAX: 5, TRADING_ENGINE_ENABLED: false },
    ));
  }, 60_000);

  afterAll(async () => {
    await svc?.stop();
  });

  const queued = (): number => svc.runtime().orders.queuedPlacements;

  it("a tenant's flood does not push another tenant's order to the back of the line", async () => {
    const aUsers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        env.token(a, { userId: `00000000-0000-4000-8000-00000000000${i}` }),
      ),
    );
    const bToken = await env.token(b);
    const lock = await lockAccount(a);
    const pending: Promise<unknown>[] = [];
    try {
      // A's first batch takes the one turn and waits for the row lock.
      pending.push(place(url, a, aUsers[0] as string));
      await lockWaiters(1);
      // Seven more of A's users queue five orders each, then B queues one.
      for (const token of aUsers.slice(1)) for (let i = 0; i < 5; i++) pending.push(place(url, a, token));
      await eventually(() => (queued() === 36 ? true : undefined), "A's flood queued");
      const bOrder = place(url, b, bToken);
      await eventually(() => (queued() === 37 ? true : undefined), "B's order queued");
      await lock.release();
      const placed = await bOrder;
      expect(placed.data?.placeOrder.status, JSON.stringify(placed.errors)).toBe('NEW');
      for (const r of (await Promise.all(pending)) as { data?: { placeOrder: OrderView } }[]) {
        expect(r.data?.placeOrder.status).toBe('NEW');
      }
      const bAt = Date.parse(placed.data?.placeOrder.createdAt ?? '');
      const aBatches = await env.admin.query<{ at: Date; orders: number }>(
        `SELECT created_at AS at, count(*)::int AS orders FROM "${a.schemaName}".orders GROUP BY created_at ORDER BY 1`,
      );
      // A's batches: the one that held the turn (1 order), then one per user (5 orders each).
      expect(aBatches.rows.map((r) => r.orders)).toEqual([1, 5, 5, 5, 5, 5, 5, 5]);
      // Round robin: B ran right after A's next batch, not after all eight (first come, first served).
      expect(aBatches.rows.filter((r) => r.at.getTime() < bAt)).toHaveLength(2);
    } finally {
      await lock.release();
      await Promise.allSettled(pending);
    }
  });

  it('refuses an order beyond the account queue bound with RATE_LIMITED, and stores nothing for it', async () => {
    const token = await env.token(a);
    const lock = await lockAccount(a);
    const pending: Promise<Awaited<ReturnType<typeof place>>>[] = [];
    try {
      pending.push(place(url, a, token));
      await lockWaiters(1);
      for (let i = 0; i < 5; i++) pending.push(place(url, a, token));
      await eventually(() => (queued() === 6 ? true : undefined), 'five orders waiting');
      const refused = await place(url, a, token, { clientOrderId: 'refused-1' });
      expect(refused.data).toBeNull();
      expect(refused.errors?.[0]?.extensions).toMatchObject({
        code: 'RATE_LIMITED',
        limit: 'account_queue',
        max: 5,
        retryAfter: 1,
      });
      expect(refused.errors?.[0]?.message).toMatch(/at most 5 .*TRADING_ACCOUNT_QUEUE_MAX/);
      await lock.release();
      for (const r of await Promise.all(pending)) expect(r.data?.placeOrder.status).toBe('NEW');
      const stored = await env.admin.query(
        `SELECT 1 FROM "${a.schemaName}".orders WHERE client_order_id = 'refused-1'`,
      );
      expect(stored.rowCount).toBe(0);
      // Once the queue moved, the same order is taken.
      const retried = await place(url, a, token, { clientOrderId: 'refused-1' });
      expect(retried.data?.placeOrder.status).toBe('NEW');
      const refusals = await svc.runtime().metrics.limitRefusals.get();
      expect(refusals.values.find((v) => v.labels['limit'] === 'account_queue')?.value).toBe(1);
    } finally {
      await lock.release();
      await Promise.allSettled(pending);
    }
  });
});

describe("each tenant's share of the pool", () => {
  let svc: TradingService;
  let url: string;
  let a: Tenant;
  let b: Tenant;

  beforeAll(async () => {
    ({ svc, url, a, b } = await startWithTwoTenants(
      {},
      { TRADING_TENANT_MAX_CONNECTIONS: 1, TRADING_PLACEMENT_CONCURRENCY: 2, TRADING_ENGINE_ENABLED: false },
    ));
  }, 60_000);

  afterAll(async () => {
    await svc?.stop();
  });

  it('a tenant at its bound waits for its own connection while another tenant is served', async () => {
    const [aToken, bToken] = await Promise.all([env.token(a), env.token(b)]);
    const gate = svc.runtime().tenantDb.gate;
    const lock = await lockAccount(a);
    let aPlaced: Promise<unknown> | undefined;
    try {
      // A's placement holds A's only connection while it waits for the row lock.
      aPlaced = place(url, a, aToken);
      await lockWaiters(1);
      expect(gate.active(a.tenantId)).toBe(1);
      const aRead = gql<{ accounts: { id: string }[] }>(url, '{ accounts { id } }', {}, aToken);
      await eventually(() => (gate.waiting(a.tenantId) === 1 ? true : undefined), "A's read waiting");
      // B reads and places meanwhile.
      const bRead = await gql<{ accounts: { id: string }[] }>(url, '{ accounts { id } }', {}, bToken);
      expect(bRead.data?.accounts.map((x) => x.id)).toEqual([b.accountId]);
      expect((await place(url, b, bToken)).data?.placeOrder.status).toBe('NEW');
      // A's read is still waiting for A's connection, not failed.
      expect(gate.waiting(a.tenantId)).toBe(1);
      await lock.release();
      expect((await aRead).data?.accounts.map((x) => x.id)).toEqual([a.accountId]);
      expect(((await aPlaced) as { data?: { placeOrder: OrderView } }).data?.placeOrder.status).toBe('NEW');
      const waits = await counterValue(svc.runtime().metrics.tenantConnectionWaits);
      expect(waits).toBeGreaterThanOrEqual(1);
    } finally {
      await lock.release();
      await aPlaced?.catch(() => undefined);
    }
  });
});
