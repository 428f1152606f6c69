/**
 * `closed_trade_days` (the per-day sums trade statistics read) against real Postgres: kept in step
 * with `closed_trades` by its triggers on insert (by the tenant role, as ingestion writes, and in
 * bulk), update, delete and truncate, and `tradeAggregates` over whole and partial UTC days equal to
 * summing the raw rows, for periods with and without whole days, open-ended or not.
 */
import { Dec } from '../../../lib/decimal.js';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tenantSchemaName, withTenant, type TenantScope } from '../../../lib/db.js';
import { provisionActive, startHarness, type Harness } from '../../../test/support/services.js';
import { AnalyticsRepository, type TradeAggregateRow } from '../src/analytics.repository.js';

let h: Harness;
let scope: TenantScope;
let schema: string;
let account: string;

beforeAll(async () => {
  h = await startHarness('analytics_days');
  const tenantId = await provisionActive(h, randomUUID(), 'Days Fund');
  schema = tenantSchemaName(tenantId);
  scope = { tenantId, schemaName: schema };
  const r = await h.admin.query<{ id: string }>(`SELECT id FROM ${schema}.accounts LIMIT 1`);
  account = r.rows[0]?.id ?? '';
  // Trades around UTC midnights over four days, wins, losses and a flat one; some via the tenant role.
  const trades: [pnl: string, opened: string, closed: string][] = [
    ['100.5', '2024-03-04T09:00:00Z', '2024-03-04T10:30:00Z'],
    ['-20.25', '2024-03-04T22:00:00Z', '2024-03-04T23:59:59.999Z'],
    ['0', '2024-03-04T23:00:00Z', '2024-03-05T00:00:00Z'],
    ['7.0001', '2024-03-05T08:00:00Z', '2024-03-05T12:00:00.250Z'],
    ['-3.5', '2024-03-06T00:00:00Z', '2024-03-06T00:00:00.001Z'],
    ['42', '2024-03-05T18:00:00Z', '2024-03-06T18:00:00Z'],
    ['-0.0001', '2024-03-07T11:00:00Z', '2024-03-07T23:00:00Z'],
  ];
  for (const [i, [pnl, opened, closed]] of trades.entries()) {
    const row = [account, pnl, opened, closed, `t${i}`];
    if (i % 2 === 0) {
      await withTenant(h.app, scope, async (_tx, client) => {
        await new AnalyticsRepository(client).insertClosedTrade(account, 'AAPL', `t${i}`, {
          direction: 'LONG',
          quantity: new Dec(1),
          entryPrice: new Dec(1),
          exitPrice: new Dec(1),
          pnl: new Dec(pnl),
          openedAt: new Date(opened),
          closedAt: new Date(closed),
        });
      });
    } else {
      await h.admin.query(
        `INSERT INTO ${schema}.closed_trades (account_id, symbol, direction, quantity, entry_price, exit_price, pnl, opened_at, closed_at, trade_id)
         VALUES ($1, 'AAPL', 'LONG', 1, 1, 1, $2, $3, $4, $5)`,
        row,
      );
    }
  }
  // Another account's trades on the same days must not count.
  await h.admin.query(
    `INSERT INTO ${schema}.closed_trades (account_id, symbol, direction, quantity, entry_price, exit_price, pnl, opened_at, closed_at, trade_id)
     SELECT $1, 'MSFT', 'SHORT', 1, 1, 1, 5, '2024-03-05T01:00:00Z', '2024-03-05T02:00:00Z', 'other' || i FROM generate_series(1, 3) i`,
    [randomUUID()],
  );
}, 120_000);

afterAll(async () => {
  await h?.stop();
});

/** What tradeAggregates must equal: the raw rows of [from, to] summed. */
async function raw(from: Date | null, to: Date | null): Promise<TradeAggregateRow> {
  const r = await h.admin.query<{ n: string; w: string; l: string; gp: string; gl: string; hold: string }>(
    `SELECT count(*) AS n, count(*) FILTER (WHERE pnl > 0) AS w, count(*) FILTER (WHERE pnl < 0) AS l,
            coalesce(sum(pnl) FILTER (WHERE pnl > 0), 0)::text AS gp, coalesce(sum(pnl) FILTER (WHERE pnl < 0), 0)::text AS gl,
            coalesce(sum(extract(epoch FROM closed_at - opened_at)), 0)::text AS hold
       FROM ${schema}.closed_trades
      WHERE account_id = $1 AND ($2::timestamptz IS NULL OR closed_at >= $2) AND ($3::timestamptz IS NULL OR closed_at <= $3)`,
    [account, from, to],
  );
  const x = r.rows[0];
  return {
    count: Number(x?.n),
    wins: Number(x?.w),
    losses: Number(x?.l),
    grossProfit: x?.gp ?? '',
    grossLoss: x?.gl ?? '',
    holdingSeconds: Number(x?.hold),
  };
}

const aggregates = (from: Date | null, to: Date | null): Promise<TradeAggregateRow> =>
  withTenant(h.app, scope, (_tx, client) =>
    new AnalyticsRepository(client).tradeAggregates(account, from, to),
  );

/** Decimal strings compared by value ("1.50" = "1.5"). */
function normalized(a: TradeAggregateRow): Record<string, unknown> {
  return {
    ...a,
    grossProfit: new Dec(a.grossProfit).toFixed(),
    grossLoss: new Dec(a.grossLoss).toFixed(),
  };
}

const d = (iso: string): Date => new Date(iso);
const RANGES: [Date | null, Date | null][] = [
  [null, null],
  [d('2024-03-05T00:00:00Z'), null],
  [null, d('2024-03-06T00:00:00Z')],
  [d('2024-03-04T10:30:00Z'), d('2024-03-06T00:00:00.001Z')],
  [d('2024-03-04T10:30:00.001Z'), d('2024-03-07T00:00:00Z')],
  [d('2024-03-04T00:00:00Z'), d('2024-03-05T00:00:00Z')],
  [d('2024-03-04T12:00:00Z'), d('2024-03-05T12:00:00.250Z')],
  [d('2024-03-05T12:00:00Z'), d('2024-03-05T13:00:00Z')],
  [d('2024-03-03T00:00:00Z'), d('2024-03-08T00:00:00Z')],
  [d('2024-03-08T00:00:00Z'), null],
  [null, d('2024-03-01T00:00:00Z')],
  [d('2024-03-06T00:00:00.001Z'), d('2024-03-06T00:00:00.001Z')],
];

async function expectAllRangesMatch(): Promise<void> {
  for (const [from, to] of RANGES) {
    const label = `${from?.toISOString() ?? '-'} .. ${to?.toISOString() ?? '-'}`;
    expect(normalized(await aggregates(from, to)), label).toEqual(normalized(await raw(from, to)));
  }
}

describe('closed_trade_days', () => {
  it('gives the raw sums for whole days, partial days and open-ended periods', async () => {
    const all = await aggregates(null, null);
    expect(all.count).toBe(7);
    expect(all.wins).toBe(3);
    expect(all.losses).toBe(3);
    expect(new Dec(all.grossProfit).toFixed()).toBe('149.5001');
    expect(new Dec(all.grossLoss).toFixed()).toBe('-23.7501');
    await expectAllRangesMatch();
  });

  it('follows updates, deletes and truncation of closed trades', async () => {
    await h.admin.query(
      `UPDATE ${schema}.closed_trades SET pnl = -pnl, closed_at = closed_at + interval '1 day' WHERE trade_id IN ('t0', 't3')`,
    );
    await expectAllRangesMatch();
    await h.admin.query(`DELETE FROM ${schema}.closed_trades WHERE trade_id IN ('t1', 't5')`);
    await expectAllRangesMatch();
    const days = await h.admin.query(`SELECT 1 FROM ${schema}.closed_trade_days WHERE trades <= 0`);
    expect(days.rowCount).toBe(0); // emptied days are removed, never left at zero or below
    await h.admin.query(`TRUNCATE ${schema}.closed_trades`);
    expect((await aggregates(null, null)).count).toBe(0);
    expect((await h.admin.query(`SELECT 1 FROM ${schema}.closed_trade_days`)).rowCount).toBe(0);
  });
});
