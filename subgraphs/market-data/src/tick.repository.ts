import type pg from 'pg';
import type { Tick } from '../../../contracts/market-tick.js';

// Raw SQL on purpose: bulk inserts bind one array per column and unnest them (one round trip and
// seven parameters for thousands of rows); drizzle would bind every value separately. `market.ticks`
// is not a drizzle table anyway (partitioned: see db/schema.ts).

const EPOCH = `timestamptz 'epoch' + interval '1 millisecond' *`;

/** A stored tick as replay reads it. */
export interface StoredTick {
  symbol: string;
  ts: number;
  seq: number;
  price: string;
  bid: string;
  ask: string;
  size: string;
}

/** `YYYY-MM-DD` (UTC) of an epoch-ms time. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** SQL of `market.ticks` and its daily partitions. */
export class TickRepository {
  /** Appends ticks (inside the caller's transaction). The partitions of their days must exist. */
  async insert(client: pg.PoolClient, ticks: readonly Tick[]): Promise<void> {
    const n = ticks.length;
    const symbol = new Array<string>(n);
    const ts = new Array<number>(n);
    const seq = new Array<number>(n);
    const price = new Array<string>(n);
    const bid = new Array<string>(n);
    const ask = new Array<string>(n);
    const size = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      const t = ticks[i] as Tick;
      symbol[i] = t.symbol;
      ts[i] = t.ts;
      seq[i] = t.seq;
      price[i] = t.price;
      bid[i] = t.bid;
      ask[i] = t.ask;
      size[i] = t.size;
    }
    await client.query(
      `INSERT INTO market.ticks (symbol, ts, seq, price, bid, ask, size)
       SELECT u.symbol, ${EPOCH} u.ts, u.seq, u.price, u.bid, u.ask, u.size
       FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::numeric[], $5::numeric[], $6::numeric[], $7::numeric[])
         AS u(symbol, ts, seq, price, bid, ask, size)`,
      [symbol, ts, seq, price, bid, ask, size],
    );
  }

  /**
   * Creates the daily partitions of `days` (`YYYY-MM-DD`) that are missing.
   * @returns the days whose partition was created now
   */
  async ensurePartitions(db: pg.Pool | pg.PoolClient, days: readonly string[]): Promise<string[]> {
    if (days.length === 0) return [];
    const r = await db.query<{ day: string; created: boolean }>(
      `SELECT d::text AS day, market.ensure_tick_partition(d) AS created FROM unnest($1::date[]) AS d ORDER BY d`,
      [days],
    );
    return r.rows.filter((x) => x.created).map((x) => x.day);
  }

  /**
   * Drops the partitions of days strictly before `day` (`YYYY-MM-DD`).
   * @returns the dropped partition names
   */
  async dropPartitionsBefore(db: pg.Pool, day: string): Promise<string[]> {
    const r = await db.query<{ name: string }>(
      `SELECT market.drop_tick_partitions_before($1::date) AS name`,
      [day],
    );
    return r.rows.map((x) => x.name);
  }

  /** Names of the existing tick partitions (`ticks_YYYYMMDD`), oldest first. */
  async listPartitions(db: pg.Pool): Promise<string[]> {
    const r = await db.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'market.ticks'::regclass
       ORDER BY c.relname`,
    );
    return r.rows.map((x) => x.name);
  }

  /**
   * Stored ticks in [from, to) after the position (ts, seq) `after`, oldest first (replay pages).
   */
  async readRange(
    db: pg.Pool,
    from: number,
    to: number,
    after: { ts: number; seq: number } | null,
    limit: number,
  ): Promise<StoredTick[]> {
    const r = await db.query<{
      symbol: string;
      ts: string;
      seq: string;
      price: string;
      bid: string;
      ask: string;
      size: string;
    }>(
      `SELECT symbol, (extract(epoch FROM ts) * 1000)::bigint AS ts, seq, price::text, bid::text, ask::text, size::text
       FROM market.ticks
       WHERE ts >= ${EPOCH} $1::bigint AND ts < ${EPOCH} $2::bigint
         AND ($3::bigint IS NULL OR (ts, seq) > (${EPOCH} $3::bigint, $4::bigint))
       ORDER BY ts, seq
       LIMIT $5`,
      [from, to, after?.ts ?? null, after?.seq ?? null, limit],
    );
    return r.rows.map((x) => ({ ...x, ts: Number(x.ts), seq: Number(x.seq) }));
  }
}
