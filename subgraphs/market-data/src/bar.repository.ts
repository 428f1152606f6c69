import { and, asc, desc, eq, gt, gte, lt, sql, type SQL } from 'drizzle-orm';
import type pg from 'pg';
import type { Db } from '../../../lib/db.js';
import { parentBuckets, type BarDelta } from './bar.aggregate.js';
import { bars1d, bars1h, bars1m, bars5m } from './db/schema.js';
import { INTERVALS, type BarTable } from './interval.js';

/** A stored bar (decimals as strings, exactly as stored): a delta's fields with its bucket as a date. */
export type BarRow = Omit<BarDelta, 'bucket' | 'openTs' | 'closeTs'> & { bucket: Date };

const TABLES = { bars_1m: bars1m, bars_5m: bars5m, bars_1h: bars1h, bars_1d: bars1d } as const;

/** Roll-up chain: each level is recomputed from the one below it. */
const ROLLUPS: { from: BarTable; to: BarTable; ms: number; width: string }[] = [
  { from: 'bars_1m', to: 'bars_5m', ms: INTERVALS.M5.ms, width: '5 minutes' },
  { from: 'bars_5m', to: 'bars_1h', ms: INTERVALS.H1.ms, width: '1 hour' },
  { from: 'bars_1h', to: 'bars_1d', ms: INTERVALS.D1.ms, width: '1 day' },
];

const EPOCH = `timestamptz 'epoch' + interval '1 millisecond' *`;

/**
 * SQL of the bar tables. Writes use raw SQL with unnest (bulk, one round trip per level, see
 * tick.repository.ts); reads use drizzle.
 */
export class BarRepository {
  constructor(private readonly db: Db) {}

  /**
   * Merges 1-minute bar deltas into `bars_1m`, then recomputes the 5m, 1h and 1d bars that contain
   * them from the level below. Recomputing (rather than adding deltas at every level) keeps each
   * level exactly the sum of its children, and makes the step idempotent. Inside the caller's
   * transaction.
   */
  async upsertAndRollUp(client: pg.PoolClient, deltas: readonly BarDelta[]): Promise<void> {
    if (deltas.length === 0) return;
    const cols = {
      symbol: deltas.map((d) => d.symbol),
      bucket: deltas.map((d) => d.bucket),
      open: deltas.map((d) => d.open),
      high: deltas.map((d) => d.high),
      low: deltas.map((d) => d.low),
      close: deltas.map((d) => d.close),
      volume: deltas.map((d) => d.volume),
      pv: deltas.map((d) => d.pv),
      trades: deltas.map((d) => d.trades),
      openTs: deltas.map((d) => d.openTs),
      closeTs: deltas.map((d) => d.closeTs),
    };
    await client.query(
      `INSERT INTO market.bars_1m AS b (symbol, bucket, open, high, low, close, volume, pv, trades, open_ts, close_ts)
       SELECT u.symbol, ${EPOCH} u.bucket, u.open, u.high, u.low, u.close, u.volume, u.pv, u.trades,
              ${EPOCH} u.open_ts, ${EPOCH} u.close_ts
       FROM unnest($1::text[], $2::bigint[], $3::numeric[], $4::numeric[], $5::numeric[], $6::numeric[],
                   $7::numeric[], $8::numeric[], $9::bigint[], $10::bigint[], $11::bigint[])
         AS u(symbol, bucket, open, high, low, close, volume, pv, trades, open_ts, close_ts)
       ON CONFLICT (symbol, bucket) DO UPDATE SET
         open = CASE WHEN excluded.open_ts < b.open_ts THEN excluded.open ELSE b.open END,
         open_ts = LEAST(b.open_ts, excluded.open_ts),
         high = GREATEST(b.high, excluded.high),
         low = LEAST(b.low, excluded.low),
         close = CASE WHEN excluded.close_ts >= b.close_ts THEN excluded.close ELSE b.close END,
         close_ts = GREATEST(b.close_ts, excluded.close_ts),
         volume = b.volume + excluded.volume,
         pv = b.pv + excluded.pv,
         trades = b.trades + excluded.trades`,
      [
        cols.symbol,
        cols.bucket,
        cols.open,
        cols.high,
        cols.low,
        cols.close,
        cols.volume,
        cols.pv,
        cols.trades,
        cols.openTs,
        cols.closeTs,
      ],
    );
    let level: { symbol: string; bucket: number }[] = [...deltas];
    for (const r of ROLLUPS) {
      const keys = parentBuckets(level, r.ms);
      await client.query(
        `INSERT INTO market.${r.to} AS t (symbol, bucket, open, high, low, close, volume, pv, trades, open_ts, close_ts)
         SELECT k.symbol, ${EPOCH} k.bucket,
                (array_agg(s.open ORDER BY s.open_ts, s.bucket))[1],
                max(s.high), min(s.low),
                (array_agg(s.close ORDER BY s.close_ts DESC, s.bucket DESC))[1],
                sum(s.volume), sum(s.pv), sum(s.trades), min(s.open_ts), max(s.close_ts)
         FROM unnest($1::text[], $2::bigint[]) AS k(symbol, bucket)
         JOIN market.${r.from} s
           ON s.symbol = k.symbol
          AND s.bucket >= ${EPOCH} k.bucket
          AND s.bucket < ${EPOCH} k.bucket + interval '${r.width}'
         GROUP BY k.symbol, k.bucket
         ON CONFLICT (symbol, bucket) DO UPDATE SET
           open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
           volume = excluded.volume, pv = excluded.pv, trades = excluded.trades,
           open_ts = excluded.open_ts, close_ts = excluded.close_ts`,
        [keys.symbols, keys.buckets],
      );
      level = keys.symbols.map((symbol, i) => ({ symbol, bucket: keys.buckets[i] as number }));
    }
  }

  /**
   * Bars of one symbol, oldest first.
   * @param range `from` inclusive, `to` exclusive, `after` exclusive (a cursor)
   * @param latest true: the most recent `limit` bars of the range (still returned oldest first)
   */
  async list(
    table: BarTable,
    symbol: string,
    range: { from?: Date | undefined; to?: Date | undefined; after?: Date | undefined },
    limit: number,
    latest: boolean,
  ): Promise<BarRow[]> {
    const t = TABLES[table];
    const where: SQL[] = [eq(t.symbol, symbol)];
    if (range.from) where.push(gte(t.bucket, range.from));
    if (range.to) where.push(lt(t.bucket, range.to));
    if (range.after) where.push(gt(t.bucket, range.after));
    const rows = await this.db
      .select({
        symbol: t.symbol,
        bucket: t.bucket,
        open: t.open,
        high: t.high,
        low: t.low,
        close: t.close,
        volume: t.volume,
        pv: t.pv,
        trades: t.trades,
      })
      .from(t)
      .where(and(...where))
      .orderBy(latest ? desc(t.bucket) : asc(t.bucket))
      .limit(limit);
    return latest ? rows.reverse() : rows;
  }

  /** Up to `limit` bars before `before`, oldest first (indicator warm-up). */
  async listBefore(table: BarTable, symbol: string, before: Date, limit: number): Promise<BarRow[]> {
    return this.list(table, symbol, { to: before }, limit, true);
  }

  /**
   * Per symbol over the 1-hour bars since `since`: first open, last close, volume and notional.
   */
  async movers(
    since: Date,
  ): Promise<{ symbol: string; open: string; last: string; volume: string; notional: string }[]> {
    const r = await this.db.execute<{
      symbol: string;
      open: string;
      last: string;
      volume: string;
      notional: string;
    }>(
      sql`SELECT symbol,
                 (array_agg(open ORDER BY bucket))[1]::text AS open,
                 (array_agg(close ORDER BY bucket DESC))[1]::text AS last,
                 sum(volume)::text AS volume,
                 sum(pv)::text AS notional
          FROM market.bars_1h
          WHERE bucket >= ${since}
          GROUP BY symbol`,
    );
    return r.rows;
  }

  /**
   * Per symbol: sample standard deviation of 1-minute log returns of closes since `since` (numeric
   * math in Postgres; `ln` of a numeric is a numeric) and how many returns it used.
   */
  async minuteReturnDeviation(
    since: Date,
  ): Promise<{ symbol: string; deviation: string; samples: number }[]> {
    const r = await this.db.execute<{ symbol: string; deviation: string; samples: string }>(
      sql`SELECT symbol, stddev_samp(r)::text AS deviation, count(r)::text AS samples
          FROM (
            SELECT symbol, ln(close / lag(close) OVER (PARTITION BY symbol ORDER BY bucket)) AS r
            FROM market.bars_1m
            WHERE bucket >= ${since}
          ) x
          WHERE r IS NOT NULL
          GROUP BY symbol
          HAVING count(r) >= 2`,
    );
    return r.rows.map((x) => ({ symbol: x.symbol, deviation: x.deviation, samples: Number(x.samples) }));
  }
}
