/**
 * SQL of the analytics subgraph inside a tenant transaction (`withTenant`: search_path is the tenant
 * schema, so every name is unqualified). Trading's data is read only through its read contract, the
 * `trading_*_v1` views (docs/adr/0002; test/ownership.test.ts enforces it): deposits and withdrawals
 * are ledger kinds `deposit` / `withdrawal` (withdrawals negative).
 */
import type pg from 'pg';
import type { SnapshotKind } from './db/schema.js';
import type { ClosedRoundTrip } from './metrics/lots.js';

/** A snapshot row as reports read it (decimals as strings). */
export interface SnapshotRecord {
  at: Date;
  equity: string;
  externalFlow: string;
}

export interface TradeAggregateRow {
  count: number;
  wins: number;
  losses: number;
  grossProfit: string;
  grossLoss: string;
  holdingSeconds: number;
}

export interface ExecutionRecord {
  id: string;
  symbol: string;
  side: 'BUY' | 'SELL';
  quantity: string;
  price: string;
  executedAt: Date;
}

export interface NewSnapshot {
  accountId: string;
  kind: SnapshotKind;
  at: Date;
  equity: string;
  cash: string;
  positionsValue: string;
  externalFlow: string;
}

const DAY_MS = 86_400_000;

/** The sums `closed_trade_days` keeps, computed from `closed_trades` rows (a WHERE clause follows). */
const CLOSED_TRADE_SUMS = `SELECT count(*) AS n, count(*) FILTER (WHERE pnl > 0) AS w, count(*) FILTER (WHERE pnl < 0) AS l,
         coalesce(sum(pnl) FILTER (WHERE pnl > 0), 0) AS gp, coalesce(sum(pnl) FILTER (WHERE pnl < 0), 0) AS gl,
         coalesce(sum(extract(epoch FROM closed_at - opened_at)), 0) AS hold
    FROM closed_trades`;

/** Queries of one tenant transaction. */
export class AnalyticsRepository {
  constructor(private readonly client: pg.PoolClient) {}

  /** Whether trading has this account in the tenant. */
  async accountExists(accountId: string): Promise<boolean> {
    const r = await this.client.query('SELECT 1 FROM trading_accounts_v1 WHERE id = $1', [accountId]);
    return (r.rowCount ?? 0) > 0;
  }

  /** Every account of the tenant (for the snapshotter). */
  async accountIds(): Promise<string[]> {
    const r = await this.client.query<{ id: string }>(
      'SELECT id FROM trading_accounts_v1 ORDER BY created_at',
    );
    return r.rows.map((x) => x.id);
  }

  /** Daily snapshots of an account in [from, to], oldest first. */
  async dailySnapshots(accountId: string, from: Date | null, to: Date | null): Promise<SnapshotRecord[]> {
    const r = await this.client.query<{ at: Date; equity: string; flow: string }>(
      `SELECT at, equity::text AS equity, external_flow::text AS flow FROM equity_snapshots
        WHERE account_id = $1 AND kind = 'daily'
          AND ($2::timestamptz IS NULL OR at >= $2) AND ($3::timestamptz IS NULL OR at <= $3)
        ORDER BY at`,
      [accountId, from, to],
    );
    return r.rows.map((x) => ({ at: x.at, equity: x.equity, externalFlow: x.flow }));
  }

  /** The latest `limit` daily snapshots, oldest first. */
  async recentDailySnapshots(accountId: string, limit: number): Promise<SnapshotRecord[]> {
    const r = await this.client.query<{ at: Date; equity: string; flow: string }>(
      `SELECT * FROM (SELECT at, equity::text AS equity, external_flow::text AS flow FROM equity_snapshots
        WHERE account_id = $1 AND kind = 'daily' ORDER BY at DESC LIMIT $2) s ORDER BY at`,
      [accountId, limit],
    );
    return r.rows.map((x) => ({ at: x.at, equity: x.equity, externalFlow: x.flow }));
  }

  /**
   * Sums of the trades closed in [from, to], computed exactly in SQL: the whole UTC days of the
   * period from `closed_trade_days` (kept by triggers), the partial days at its ends from
   * `closed_trades` itself.
   */
  async tradeAggregates(accountId: string, from: Date | null, to: Date | null): Promise<TradeAggregateRow> {
    // Whole days are [lo, hi): lo the first UTC midnight at or after `from`, hi the last at or before `to`.
    const lo = from === null ? null : new Date(Math.ceil(from.getTime() / DAY_MS) * DAY_MS);
    const hi = to === null ? null : new Date(Math.floor(to.getTime() / DAY_MS) * DAY_MS);
    const wholeDays = lo === null || hi === null || lo < hi;
    const r = await this.client.query<{
      count: string | null;
      wins: string | null;
      losses: string | null;
      gp: string | null;
      gl: string | null;
      hold: string | null;
    }>(
      wholeDays
        ? `SELECT sum(n) AS count, sum(w) AS wins, sum(l) AS losses, sum(gp)::text AS gp, sum(gl)::text AS gl,
                  sum(hold)::text AS hold
             FROM (SELECT trades AS n, wins AS w, losses AS l, gross_profit AS gp, gross_loss AS gl, holding_seconds AS hold
                     FROM closed_trade_days
                    WHERE account_id = $1
                      AND ($4::timestamptz IS NULL OR day >= ($4::timestamptz AT TIME ZONE 'UTC')::date)
                      AND ($5::timestamptz IS NULL OR day < ($5::timestamptz AT TIME ZONE 'UTC')::date)
                   UNION ALL
                   ${CLOSED_TRADE_SUMS}
                    WHERE account_id = $1
                      AND (($4::timestamptz IS NOT NULL AND closed_at >= $2 AND closed_at < $4)
                        OR ($5::timestamptz IS NOT NULL AND closed_at >= $5 AND closed_at <= $3))) s`
        : `SELECT n AS count, w AS wins, l AS losses, gp::text AS gp, gl::text AS gl, hold::text AS hold
             FROM (${CLOSED_TRADE_SUMS} WHERE account_id = $1 AND closed_at >= $2 AND closed_at <= $3) s`,
      wholeDays ? [accountId, from, to, lo, hi] : [accountId, from, to],
    );
    const row = r.rows[0];
    return {
      count: Number(row?.count ?? 0),
      wins: Number(row?.wins ?? 0),
      losses: Number(row?.losses ?? 0),
      grossProfit: row?.gp ?? '0',
      grossLoss: row?.gl ?? '0',
      holdingSeconds: Number(row?.hold ?? 0),
    };
  }

  /** Cash of an account (trading's `accounts.cash`), or null when it does not exist. */
  async cash(accountId: string): Promise<string | null> {
    const r = await this.client.query<{ cash: string }>(
      'SELECT cash::text AS cash FROM trading_accounts_v1 WHERE id = $1',
      [accountId],
    );
    return r.rows[0]?.cash ?? null;
  }

  /** Open positions of an account (non-zero quantity). */
  async positions(accountId: string): Promise<{ symbol: string; quantity: string; averagePrice: string }[]> {
    const r = await this.client.query<{ symbol: string; quantity: string; averagePrice: string }>(
      `SELECT symbol, quantity::text AS quantity, average_price::text AS "averagePrice"
         FROM trading_positions_v1 WHERE account_id = $1 AND quantity <> 0 ORDER BY symbol`,
      [accountId],
    );
    return r.rows;
  }

  /** Net deposits minus withdrawals booked in (since, until]. */
  async externalFlows(accountId: string, since: Date | null, until: Date): Promise<string> {
    const r = await this.client.query<{ total: string }>(
      `SELECT coalesce(sum(amount), 0)::text AS total FROM trading_cash_ledger_v1
        WHERE account_id = $1 AND kind IN ('deposit', 'withdrawal')
          AND ($2::timestamptz IS NULL OR created_at > $2) AND created_at <= $3`,
      [accountId, since, until],
    );
    return r.rows[0]?.total ?? '0';
  }

  /** The latest snapshot of a kind before `before`, if any. */
  async lastSnapshot(accountId: string, kind: SnapshotKind, before: Date): Promise<{ at: Date } | null> {
    const r = await this.client.query<{ at: Date }>(
      `SELECT at FROM equity_snapshots WHERE account_id = $1 AND kind = $2 AND at < $3 ORDER BY at DESC LIMIT 1`,
      [accountId, kind, before],
    );
    return r.rows[0] ?? null;
  }

  /** The last daily snapshot of a day earlier than `day` (YYYY-MM-DD). */
  async lastDailyBefore(accountId: string, day: string): Promise<{ at: Date } | null> {
    const r = await this.client.query<{ at: Date }>(
      `SELECT at FROM equity_snapshots WHERE account_id = $1 AND kind = 'daily' AND snapshot_day < $2::date
        ORDER BY snapshot_day DESC LIMIT 1`,
      [accountId, day],
    );
    return r.rows[0] ?? null;
  }

  async hasDailySnapshots(accountId: string): Promise<boolean> {
    const r = await this.client.query(
      `SELECT 1 FROM equity_snapshots WHERE account_id = $1 AND kind = 'daily' LIMIT 1`,
      [accountId],
    );
    return (r.rowCount ?? 0) > 0;
  }

  /** Inserts an intraday row, or inserts/overwrites the daily row of the snapshot's UTC day. */
  async saveSnapshot(s: NewSnapshot): Promise<void> {
    const params = [
      s.accountId,
      s.kind,
      s.at,
      s.at.toISOString().slice(0, 10),
      s.equity,
      s.cash,
      s.positionsValue,
      s.externalFlow,
    ];
    if (s.kind === 'intraday') {
      await this.client.query(
        `INSERT INTO equity_snapshots (account_id, kind, at, snapshot_day, equity, cash, positions_value, external_flow)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        params,
      );
      return;
    }
    await this.client.query(
      `INSERT INTO equity_snapshots (account_id, kind, at, snapshot_day, equity, cash, positions_value, external_flow)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (account_id, snapshot_day) WHERE kind = 'daily'
       DO UPDATE SET at = EXCLUDED.at, equity = EXCLUDED.equity, cash = EXCLUDED.cash,
                     positions_value = EXCLUDED.positions_value, external_flow = EXCLUDED.external_flow`,
      params,
    );
  }

  /** Ledger rows and executions of an account, for backfilling daily snapshots. */
  async history(accountId: string): Promise<{
    ledger: { kind: string; amount: string; at: Date }[];
    executions: ExecutionRecord[];
  }> {
    const ledger = await this.client.query<{ kind: string; amount: string; at: Date }>(
      `SELECT kind, amount::text AS amount, created_at AS at FROM trading_cash_ledger_v1 WHERE account_id = $1 ORDER BY created_at, id`,
      [accountId],
    );
    return { ledger: ledger.rows, executions: await this.executions(accountId) };
  }

  /** Every execution of an account, oldest first. */
  async executions(accountId: string): Promise<ExecutionRecord[]> {
    const r = await this.client.query<{
      id: string;
      symbol: string;
      side: 'BUY' | 'SELL';
      quantity: string;
      price: string;
      executed_at: Date;
    }>(
      `SELECT id::text AS id, symbol, side, quantity::text AS quantity, price::text AS price, executed_at
         FROM trading_executions_v1 WHERE account_id = $1 ORDER BY executed_at, id`,
      [accountId],
    );
    return r.rows.map((x) => ({ ...x, executedAt: x.executed_at }));
  }

  /** The stored lots of an account (read before its history is replayed). */
  async lots(
    accountId: string,
  ): Promise<
    { accountId: string; symbol: string; quantity: string; averagePrice: string; openedAt: Date }[]
  > {
    const r = await this.client.query<{
      symbol: string;
      quantity: string;
      averagePrice: string;
      openedAt: Date;
    }>(
      `SELECT symbol, quantity::text AS quantity, average_price::text AS "averagePrice", opened_at AS "openedAt"
         FROM trade_lots WHERE account_id = $1`,
      [accountId],
    );
    return r.rows.map((x) => ({ ...x, accountId }));
  }

  /** Inserts one closed round trip (tests and fixtures; ingestion writes them in batches: trade-batch.ts). */
  async insertClosedTrade(
    accountId: string,
    symbol: string,
    tradeId: string,
    c: ClosedRoundTrip,
  ): Promise<void> {
    await this.client.query(
      `INSERT INTO closed_trades (account_id, symbol, direction, quantity, entry_price, exit_price, pnl, opened_at, closed_at, trade_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
        accountId,
        symbol,
        c.direction,
        c.quantity.toFixed(),
        c.entryPrice.toDecimalPlaces(10).toFixed(),
        c.exitPrice.toDecimalPlaces(10).toFixed(),
        c.pnl.toDecimalPlaces(4).toFixed(),
        c.openedAt,
        c.closedAt,
        tradeId,
      ],
    );
  }
}
