/**
 * Read-only access to market-data's platform schema `market` (instruments and daily bars) and its
 * latest quotes in Redis (`<REDIS_PREFIX>market:quotes`, one JSON tick per symbol, price in `p`).
 * These are platform-wide and readable by the app role, so they are read outside tenant scope.
 */
import type pg from 'pg';
import type { Redis } from '../../../lib/redis.js';

export class MarketRepository {
  /**
   * @param pool app-role pool (not inside withTenant: the tenant role cannot read `market`)
   * @param redis client without key prefix (keys are written out in full)
   * @param quotesKey full key of market-data's quote hash
   */
  constructor(
    private readonly pool: pg.Pool,
    private readonly redis: Redis,
    private readonly quotesKey: string,
  ) {}

  /** Latest prices: the live quote when there is one, else the last daily close. */
  async latestPrices(symbols: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (symbols.length === 0) return out;
    try {
      const values = await this.redis.hmget(this.quotesKey, ...symbols);
      symbols.forEach((s, i) => {
        const raw = values[i];
        if (!raw) return;
        try {
          const p = (JSON.parse(raw) as { p?: unknown }).p;
          if (typeof p === 'string' && /^-?\d+(\.\d+)?$/.test(p)) out.set(s, p);
        } catch {
          // A malformed quote reads as no quote; the daily close is used instead.
        }
      });
    } catch {
      // Redis unavailable: fall back to stored closes.
    }
    const missing = symbols.filter((s) => !out.has(s));
    if (missing.length > 0) {
      const r = await this.pool.query<{ symbol: string; close: string }>(
        `SELECT DISTINCT ON (symbol) symbol, close::text AS close FROM market.bars_1d
          WHERE symbol = ANY($1) ORDER BY symbol, bucket DESC`,
        [missing],
      );
      for (const row of r.rows) out.set(row.symbol, row.close);
    }
    return out;
  }

  /** Asset class by symbol (unknown symbols are left out). */
  async assetClasses(symbols: readonly string[]): Promise<Map<string, string>> {
    if (symbols.length === 0) return new Map();
    const r = await this.pool.query<{ symbol: string; asset_class: string }>(
      'SELECT symbol, asset_class FROM market.instruments WHERE symbol = ANY($1)',
      [symbols],
    );
    return new Map(r.rows.map((x) => [x.symbol, x.asset_class]));
  }

  /** Daily closes of a symbol by UTC day (YYYY-MM-DD) in [from, to]. */
  async dailyCloses(symbol: string, from: Date, to: Date): Promise<Map<string, number>> {
    const r = await this.pool.query<{ day: string; close: string }>(
      `SELECT to_char(bucket AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, close::text AS close
         FROM market.bars_1d WHERE symbol = $1 AND bucket >= $2 AND bucket <= $3 ORDER BY bucket`,
      [symbol, new Date(from.getTime() - 7 * 86_400_000), to],
    );
    return new Map(r.rows.map((x) => [x.day, Number(x.close)]));
  }

  /** Daily closes of several symbols by UTC day, for backfills. */
  async closesBySymbol(
    symbols: readonly string[],
    from: Date,
    to: Date,
  ): Promise<Map<string, Map<string, string>>> {
    const out = new Map<string, Map<string, string>>();
    if (symbols.length === 0) return out;
    const r = await this.pool.query<{ symbol: string; day: string; close: string }>(
      `SELECT symbol, to_char(bucket AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, close::text AS close
         FROM market.bars_1d WHERE symbol = ANY($1) AND bucket >= $2 AND bucket <= $3 ORDER BY bucket`,
      [symbols, from, to],
    );
    for (const row of r.rows) {
      let m = out.get(row.symbol);
      if (!m) out.set(row.symbol, (m = new Map<string, string>()));
      m.set(row.day, row.close);
    }
    return out;
  }
}
