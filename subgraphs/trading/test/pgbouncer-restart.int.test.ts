/**
 * PgBouncer killed with SIGKILL while placements are in flight, then restarted (issue 12's chaos fault,
 * made deterministic): a real PgBouncer of the cluster (scripts/cluster) on a free port, TLS verified,
 * transaction pooling, between the trading service and PostgreSQL. The test holds each account's row
 * lock on a direct connection, so when PgBouncer dies a placement transaction is certainly waiting
 * inside it. Clients retry each intent with the same clientOrderId, as the chaos traders do; after the
 * restart every intent ends acknowledged exactly once and cash and positions reconcile.
 *
 * Before lib/db.ts kept an error listener on checked-out clients, the lost connection's `error` event
 * had no listener and took the whole process down: the replicas died, and the chaos test's orders
 * stayed unanswered.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../../../test/support/cluster.js';
import { eventually } from '../../../test/support/wait.js';
import { accountQueueDepth } from '../src/account-queue.js';
import type { TradingService } from '../src/service.js';
import { createTradingTestEnv, gql, PLACE, tick, type Tenant, type TradingTestEnv } from './support.js';

const CLIENTS_PER_ACCOUNT = 4;

let dir = '';
let tc: TestCluster;
let env: TradingTestEnv;
let svc: TradingService;
let url = '';
const tenants: { t: Tenant; token: string }[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tradesage-trading-pgbouncer-'));
  tc = await startTestCluster(dir, {}, (p) => p.kind === 'pgbouncer');
  env = await createTradingTestEnv('trading_pgbouncer', {
    TEST_DATABASE_VIA: `127.0.0.1:${tc.cluster.plan.ports.pgbouncer}`,
    TEST_DATABASE_CA: tc.cluster.plan.paths.caCert,
  });
  svc = env.service();
  ({ url } = await svc.start());
  for (let i = 0; i < 2; i++) {
    const t = await env.tenant();
    tenants.push({ t, token: await env.token(t) });
  }
  await svc.runtime().engine?.ingest(tick('AAPL', '100.00'));
}, 120_000);

afterAll(async () => {
  await svc?.stop();
  await env?.cleanup();
  await tc?.cluster.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Ack {
  clientOrderId: string;
  orderId: string;
  attempts: number;
}

/**
 * A client placing BUY 1 AAPL at market under `clientOrderId` until it is acknowledged: a transport
 * error or INTERNAL_SERVER_ERROR (the database was unreachable) is retried with the same intent.
 */
async function placeUntilAcknowledged(
  tenant: { t: Tenant; token: string },
  clientOrderId: string,
): Promise<Ack> {
  const input = {
    accountId: tenant.t.accountId,
    clientOrderId,
    symbol: 'AAPL',
    side: 'BUY',
    type: 'MARKET',
    quantity: '1',
  };
  const until = Date.now() + 90_000;
  for (let attempts = 1; ; attempts++) {
    const r = await gql<{ placeOrder: { id: string } }>(url, PLACE, { input }, tenant.token).catch(
      () => undefined,
    );
    if (r?.data?.placeOrder) return { clientOrderId, orderId: r.data.placeOrder.id, attempts };
    const code = r?.errors?.[0]?.extensions?.code;
    if (code && code !== 'INTERNAL_SERVER_ERROR')
      throw new Error(`${clientOrderId}: ${code} ${r?.errors?.[0]?.message}`);
    if (Date.now() > until) throw new Error(`${clientOrderId} never acknowledged (${attempts} attempts)`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** Backends of the test database waiting for a lock (the placements stuck behind the test's locks). */
async function waitingForLocks(): Promise<number> {
  const r = await env.admin.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event_type = 'Lock'`,
  );
  return r.rows[0]?.n ?? 0;
}

/** Locks every account row on a direct connection (past PgBouncer) until `release`. */
async function lockAccounts(): Promise<{ release(): Promise<void> }> {
  const client: pg.PoolClient = await env.admin.connect();
  await client.query('BEGIN');
  for (const { t } of tenants)
    await client.query(`SELECT 1 FROM "${t.schemaName}".accounts WHERE id = $1 FOR UPDATE`, [t.accountId]);
  return {
    async release() {
      await client.query('ROLLBACK');
      client.release();
    },
  };
}

describe('trading through PgBouncer: SIGKILL mid-placement, then restart', () => {
  it('ends every retried intent acknowledged exactly once; cash and positions reconcile', async () => {
    // Warm the pool through PgBouncer, so idle pooled connections die with it too.
    for (const tenant of tenants) await placeUntilAcknowledged(tenant, `warm-${tenant.t.accountId}`);

    const locks = await lockAccounts();
    const clients = tenants.flatMap((tenant) =>
      Array.from({ length: CLIENTS_PER_ACCOUNT }, (_, i) =>
        placeUntilAcknowledged(tenant, `c${i}-${tenant.t.accountId}`),
      ),
    );
    // One placement transaction per account is inside PgBouncer, waiting for the account's lock.
    await eventually(
      async () => ((await waitingForLocks()) >= tenants.length ? true : undefined),
      'placements waiting inside PgBouncer',
    );
    await tc.cluster.kill('pgbouncer');
    await locks.release();
    // The service is still up while PgBouncer is gone: it answers, with an error the client retries.
    const down = await gql(url, '{ accounts { id } }', {}, tenants[0]?.token);
    expect(down.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
    await tc.cluster.restart('pgbouncer');

    const acks = await Promise.all(clients);
    expect(acks).toHaveLength(tenants.length * CLIENTS_PER_ACCOUNT);
    // Some intent did need a retry (the ones that were in flight when PgBouncer died).
    expect(Math.max(...acks.map((a) => a.attempts))).toBeGreaterThan(1);
    await eventually(() => (accountQueueDepth() === 0 ? true : undefined), 'account queues drained');

    for (const { t } of tenants) {
      const orders = await env.admin.query<{
        id: string;
        client_order_id: string;
        filled: string;
        notional: string;
      }>(
        `SELECT o.id, o.client_order_id, o.filled_quantity::text AS filled,
                coalesce((SELECT sum(e.notional + e.fee) FROM "${t.schemaName}".executions e WHERE e.order_id = o.id), 0)::text AS notional
           FROM "${t.schemaName}".orders o WHERE o.account_id = $1`,
        [t.accountId],
      );
      const mine = acks.filter((a) => a.clientOrderId.endsWith(t.accountId));
      // Exactly once, with the order id the client was given, filled once.
      for (const ack of mine) {
        const rows = orders.rows.filter((o) => o.client_order_id === ack.clientOrderId);
        expect(rows.map((o) => o.id)).toEqual([ack.orderId]);
        expect(Number(rows[0]?.filled)).toBe(1);
      }
      expect(orders.rows).toHaveLength(mine.length + 1);
      const account = await env.admin.query<{ cash: string; position: string | null }>(
        `SELECT a.cash::text AS cash,
                (SELECT p.quantity::text FROM "${t.schemaName}".positions p
                  WHERE p.account_id = a.id AND p.symbol = 'AAPL') AS position
           FROM "${t.schemaName}".accounts a WHERE a.id = $1`,
        [t.accountId],
      );
      const spent = orders.rows.reduce((sum, o) => sum + Number(o.notional), 0);
      expect(Number(account.rows[0]?.position)).toBe(orders.rows.length);
      expect(Number(account.rows[0]?.cash)).toBeCloseTo(100_000 - spent, 4);
    }
  }, 120_000);
});
