/**
 * Concurrency against real Postgres and Redis: 50 clients placing and canceling orders on one account
 * at once while the engine fills resting orders from a moving price, with fees on. Cash and buying
 * power never go negative (sampled during the run, and enforced by the schema's checks), no order is
 * filled beyond its quantity or twice from one tick, reservations add up, positions equal their
 * executions, and the ledger reconciles exactly:
 *   cash = deposits - withdrawals - net trade value - fees.
 * Also: the same clientOrderId submitted 20 times at once makes one order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dec } from '../src/decimal.js';
import type { TradingService } from '../src/service.js';
import {
  gql,
  PLACE,
  startTrading,
  tick,
  type OrderView,
  type Tenant,
  type TradingTestEnv,
} from './support.js';

let env: TradingTestEnv;
let svc: TradingService;
let url: string;

beforeAll(async () => {
  ({ env, svc, url } = await startTrading('trading_concurrency', {
    TRADING_FEE_BPS: '5',
    TRADING_FEE_MIN: '0.5',
    DB_POOL_MAX: '8',
  }));
  await svc.runtime().engine!.ingest(tick('AAPL', '100.00', { bid: '99.99', ask: '100.01' }));
});

afterAll(async () => {
  await svc?.stop();
  await env?.cleanup();
});

describe('idempotency', () => {
  it('the same clientOrderId submitted 20 times concurrently makes one order', async () => {
    const t = await env.tenant();
    const token = await env.token(t);
    const input = {
      accountId: t.accountId,
      clientOrderId: 'once-only',
      symbol: 'AAPL',
      side: 'BUY',
      type: 'MARKET',
      quantity: '3',
    };
    const results = await Promise.all(
      Array.from({ length: 20 }, () => gql<{ placeOrder: OrderView }>(url, PLACE, { input }, token)),
    );
    const ids = new Set(results.map((r) => r.data?.placeOrder.id));
    expect(results.every((r) => r.errors === undefined)).toBe(true);
    expect(ids.size).toBe(1);
    const rows = await env.admin.query(`SELECT id FROM "${t.schemaName}".orders`);
    expect(rows.rowCount).toBe(1);
    const fills = await env.admin.query(`SELECT quantity::text FROM "${t.schemaName}".executions`);
    expect(fills.rows).toEqual([{ quantity: '3.0000000000' }]);
  });
});

describe('50 clients on one account', () => {
  let t: Tenant;

  it('never overspend, never double-fill, and the ledger reconciles exactly', async () => {
    t = await env.tenant();
    const token = await env.token(t, { role: 'TRADER' });
    const engine = svc.runtime().engine!;
    let running = true;
    const violations: string[] = [];

    // A price walking between 99 and 101, every few milliseconds, crossing resting limits both ways.
    const ticker = (async () => {
      let i = 0;
      while (running) {
        const p = (100 + Math.sin(i++ / 3)).toFixed(2);
        await engine.ingest(tick('AAPL', p));
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    // Buying power and cash sampled while everything runs.
    const sampler = (async () => {
      while (running) {
        const r = await env.admin.query<{ cash: string; reserved: string }>(
          `SELECT cash::text, reserved::text FROM "${t.schemaName}".accounts WHERE id = $1`,
          [t.accountId],
        );
        const row = r.rows[0];
        if (row && (new Dec(row.cash).isNegative() || new Dec(row.cash).lt(row.reserved))) {
          violations.push(JSON.stringify(row));
        }
        await new Promise((r2) => setTimeout(r2, 10));
      }
    })();

    const client = async (c: number): Promise<void> => {
      let resting: string | undefined;
      for (let j = 0; j < 8; j++) {
        const k = `${c}-${j}`;
        const action = (c + j) % 5;
        if (action === 2 && resting) {
          await gql(url, `mutation($id: ID!) { cancelOrder(id: $id) { id } }`, { id: resting }, token);
          resting = undefined;
          continue;
        }
        const input =
          action === 0
            ? { symbol: 'AAPL', side: 'BUY', type: 'MARKET', quantity: String(20 + (c % 7) * 10) }
            : action === 1 || action === 2
              ? {
                  symbol: 'AAPL',
                  side: 'BUY',
                  type: 'LIMIT',
                  quantity: '50',
                  limitPrice: (99.2 + (c % 9) * 0.2).toFixed(2),
                }
              : action === 3
                ? { symbol: 'AAPL', side: 'SELL', type: 'MARKET', quantity: String(5 + (c % 4) * 5) }
                : {
                    symbol: 'AAPL',
                    side: 'SELL',
                    type: 'LIMIT',
                    quantity: '10',
                    limitPrice: (100.2 + (c % 5) * 0.2).toFixed(2),
                    timeInForce: 'GTC',
                  };
        const r = await gql<{ placeOrder: OrderView }>(
          url,
          PLACE,
          { input: { accountId: t.accountId, clientOrderId: `o-${k}`, ...input } },
          token,
        );
        if (r.errors) throw new Error(JSON.stringify(r.errors));
        if (r.data?.placeOrder.status === 'NEW') resting = r.data.placeOrder.id;
      }
    };
    try {
      await Promise.all(Array.from({ length: 50 }, (_, c) => client(c)));
    } finally {
      running = false;
      await ticker;
      await sampler;
    }
    expect(violations).toEqual([]);

    const q = async <T extends Record<string, unknown>>(sql: string): Promise<T[]> =>
      (await env.admin.query<T>(sql.replaceAll('S.', `"${t.schemaName}".`))).rows;
    const [account] = await q<{ cash: string; reserved: string }>(
      `SELECT cash::text, reserved::text FROM S.accounts`,
    );
    expect(account).toBeDefined();
    const cash = new Dec(account!.cash);
    expect(cash.isNegative()).toBe(false);
    expect(cash.gte(account!.reserved)).toBe(true);

    const orders = await q<{ status: string; reject_reason: string | null }>(
      `SELECT status, reject_reason FROM S.orders`,
    );
    expect(orders.length).toBeGreaterThan(300);
    const statuses = new Set(orders.map((o) => o.status));
    // The run must have exercised fills, rests, cancels and buying-power rejections.
    for (const s of ['FILLED', 'CANCELED', 'REJECTED']) expect(statuses, s).toContain(s);
    expect(orders.some((o) => o.reject_reason === 'INSUFFICIENT_BUYING_POWER')).toBe(true);

    // No order filled beyond its quantity; its fills add up to its filled quantity.
    const overfilled = await q(
      `SELECT o.id FROM S.orders o LEFT JOIN S.executions e ON e.order_id = o.id
        GROUP BY o.id, o.quantity, o.filled_quantity
       HAVING coalesce(sum(e.quantity), 0) <> o.filled_quantity OR o.filled_quantity > o.quantity`,
    );
    expect(overfilled).toEqual([]);
    // Reservations: open orders hold exactly what the account says; closed orders hold nothing.
    const [res] = await q<{ open: string; closed: string }>(
      `SELECT coalesce(sum(reserved_amount) FILTER (WHERE status IN ('NEW','PARTIALLY_FILLED')), 0)::text AS open,
              coalesce(sum(reserved_amount) FILTER (WHERE status NOT IN ('NEW','PARTIALLY_FILLED')), 0)::text AS closed
         FROM S.orders`,
    );
    expect(new Dec(res!.open).eq(account!.reserved)).toBe(true);
    expect(new Dec(res!.closed).isZero()).toBe(true);
    // Open quantities kept by the sessions equal what the open orders still hold, per symbol and side.
    const open = await q<{ symbol: string; buy: string; sell: string; kept_buy: string; kept_sell: string }>(
      `SELECT s.symbol,
              coalesce(sum(o.quantity - o.filled_quantity) FILTER (WHERE o.side = 'BUY'), 0)::text AS buy,
              coalesce(sum(o.quantity - o.filled_quantity) FILTER (WHERE o.side = 'SELL'), 0)::text AS sell,
              coalesce(min(k.buy), 0)::text AS kept_buy, coalesce(min(k.sell), 0)::text AS kept_sell
         FROM (SELECT symbol FROM S.orders UNION SELECT symbol FROM S.open_quantities) s
         LEFT JOIN S.orders o ON o.symbol = s.symbol AND o.status IN ('NEW','PARTIALLY_FILLED')
         LEFT JOIN S.open_quantities k ON k.symbol = s.symbol
        GROUP BY s.symbol`,
    );
    expect(open.length).toBeGreaterThan(0);
    for (const r of open) {
      expect(new Dec(r.kept_buy).eq(r.buy), `${r.symbol} buy ${r.kept_buy} vs ${r.buy}`).toBe(true);
      expect(new Dec(r.kept_sell).eq(r.sell), `${r.symbol} sell ${r.kept_sell} vs ${r.sell}`).toBe(true);
    }
    // Positions equal their executions.
    const [pos] = await q<{ held: string | null; executed: string }>(
      `SELECT (SELECT quantity::text FROM S.positions WHERE symbol = 'AAPL') AS held,
              coalesce(sum(CASE WHEN side = 'BUY' THEN quantity ELSE -quantity END), 0)::text AS executed
         FROM S.executions`,
    );
    expect(new Dec(pos!.held ?? 0).eq(pos!.executed)).toBe(true);
    expect(new Dec(pos!.held ?? 0).isNegative()).toBe(false);

    // The ledger: cash = deposits - withdrawals - net trade value - fees, row by row and in total.
    const [ledger] = await q<{
      deposits: string;
      withdrawals: string;
      trades: string;
      fees: string;
      total: string;
    }>(
      `SELECT coalesce(sum(amount) FILTER (WHERE kind = 'deposit'), 0)::text AS deposits,
              coalesce(-sum(amount) FILTER (WHERE kind = 'withdrawal'), 0)::text AS withdrawals,
              coalesce(sum(amount) FILTER (WHERE kind = 'trade'), 0)::text AS trades,
              coalesce(-sum(amount) FILTER (WHERE kind = 'fee'), 0)::text AS fees,
              sum(amount)::text AS total
         FROM S.cash_ledger`,
    );
    const [exec] = await q<{ net: string; fees: string; n: number }>(
      `SELECT coalesce(sum(CASE WHEN side = 'BUY' THEN notional ELSE -notional END), 0)::text AS net,
              coalesce(sum(fee), 0)::text AS fees, count(*)::int AS n
         FROM S.executions`,
    );
    expect(exec!.n).toBeGreaterThan(20);
    expect(new Dec(exec!.fees).gt(0)).toBe(true);
    expect(new Dec(ledger!.trades).eq(new Dec(exec!.net).neg())).toBe(true);
    expect(new Dec(ledger!.fees).eq(exec!.fees)).toBe(true);
    const expected = new Dec(ledger!.deposits).sub(ledger!.withdrawals).sub(exec!.net).sub(exec!.fees);
    expect(expected.toFixed(4)).toBe(cash.toFixed(4));
    expect(new Dec(ledger!.total).eq(cash)).toBe(true);
    // Every execution has exactly one trade row (and at most one fee row) in the ledger.
    const unmatched = await q(
      `SELECT e.id FROM S.executions e
         LEFT JOIN S.cash_ledger l ON l.reference = e.id::text AND l.kind = 'trade'
        GROUP BY e.id HAVING count(l.id) <> 1`,
    );
    expect(unmatched).toEqual([]);
  });
});
