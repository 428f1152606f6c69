import { badInput } from '../../../lib/errors.js';
import type { BarRepository, BarRow } from './bar.repository.js';
import { Dec, vwapOf } from './decimal.js';
import type { CandleInterval } from './generated/resolvers-types.js';
import type { InstrumentCatalog } from './instrument.catalog.js';
import { INTERVALS } from './interval.js';

/** A candle as resolvers return it. */
export interface CandleModel {
  start: Date;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
  vwap: string;
  trades: number;
  /** Sum of price * size (exact), for indicators that need it (VWAP). */
  pv: string;
}

/** Largest `limit` / `first` accepted; more is BAD_USER_INPUT rather than silently truncated. */
export const MAX_CANDLES = 5_000;
export const DEFAULT_CANDLES = 500;

/** Arguments shared by the candle queries. */
export interface CandleQuery {
  symbol: string;
  interval: CandleInterval;
  from?: Date | null | undefined;
  to?: Date | null | undefined;
}

const CURSOR_PREFIX = 'c1';

/** Prices render with the instrument's tick decimals ("401.00"), whatever scale the sums produced. */
function toCandle(r: BarRow, decimals: number): CandleModel {
  const price = (v: string): string => new Dec(v).toFixed(decimals);
  return {
    start: r.bucket,
    open: price(r.open),
    high: price(r.high),
    low: price(r.low),
    close: price(r.close),
    volume: r.volume,
    vwap: vwapOf(r.pv, r.volume),
    trades: r.trades,
    pv: r.pv,
  };
}

/** Candle reads: validation, range semantics and cursor pagination over the bar tables. */
export class CandleService {
  constructor(
    private readonly bars: BarRepository,
    private readonly catalog: InstrumentCatalog,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Candles in ascending time order. With `from`: the first `limit` from it; without: the most recent
   * `limit` before `to` (default now, so the current, still forming candle is included).
   * @throws AppError BAD_USER_INPUT for an unknown symbol, an inverted range or a bad limit
   */
  async list(q: CandleQuery & { limit?: number | null | undefined }): Promise<CandleModel[]> {
    const { table, from, to, decimals } = this.validate(q);
    const limit = this.limit(q.limit, 'limit');
    const rows = await this.bars.list(table, q.symbol, { from, to }, limit, from === undefined);
    return rows.map((r) => toCandle(r, decimals));
  }

  /**
   * One page of candles, oldest first, after the cursor `after` (from `endCursor` of the previous page).
   * @throws AppError BAD_USER_INPUT as {@link list}, and for a malformed or foreign cursor
   */
  async page(
    q: CandleQuery & { first?: number | null | undefined; after?: string | null | undefined },
  ): Promise<{ candles: CandleModel[]; endCursor: string | null; hasNextPage: boolean }> {
    const { table, from, to, decimals } = this.validate(q);
    const first = this.limit(q.first, 'first');
    const after = q.after ? decodeCursor(q.after, q.interval) : undefined;
    const rows = await this.bars.list(table, q.symbol, { from, to, after }, first + 1, false);
    const hasNextPage = rows.length > first;
    const candles = rows.slice(0, first).map((r) => toCandle(r, decimals));
    const last = candles[candles.length - 1];
    return { candles, endCursor: last ? encodeCursor(q.interval, last.start) : null, hasNextPage };
  }

  /** Candles of the range plus up to `warmup` earlier ones (indicator warm-up). */
  async withWarmup(
    q: CandleQuery & { limit?: number | null | undefined },
    warmup: number,
  ): Promise<{ candles: CandleModel[]; warmup: CandleModel[] }> {
    const candles = await this.list(q);
    const firstStart = candles[0]?.start ?? q.from ?? undefined;
    if (!firstStart) return { candles, warmup: [] };
    const before = await this.bars.listBefore(INTERVALS[q.interval].table, q.symbol, firstStart, warmup);
    const decimals = this.catalog.require(q.symbol).priceDecimals;
    return { candles, warmup: before.map((r) => toCandle(r, decimals)) };
  }

  private validate(q: CandleQuery): {
    table: (typeof INTERVALS)[CandleInterval]['table'];
    from?: Date;
    to: Date;
    decimals: number;
  } {
    const decimals = this.catalog.require(q.symbol).priceDecimals;
    const from = q.from ?? undefined;
    const to = q.to ?? new Date(this.now() + INTERVALS[q.interval].ms);
    if (from && from.getTime() > to.getTime()) {
      throw badInput('`from` must not be after `to`', { field: 'from' });
    }
    const table = INTERVALS[q.interval].table;
    return from ? { table, from, to, decimals } : { table, to, decimals };
  }

  private limit(value: number | null | undefined, field: string): number {
    if (value === null || value === undefined) return DEFAULT_CANDLES;
    if (!Number.isInteger(value) || value < 1 || value > MAX_CANDLES) {
      throw badInput(`\`${field}\` must be between 1 and ${MAX_CANDLES}`, { field, max: MAX_CANDLES });
    }
    return value;
  }
}

/** An opaque cursor: the interval and the candle's start. */
export function encodeCursor(interval: CandleInterval, start: Date): string {
  return Buffer.from(`${CURSOR_PREFIX}:${interval}:${start.getTime()}`).toString('base64url');
}

function decodeCursor(cursor: string, interval: CandleInterval): Date {
  const parts = Buffer.from(cursor.slice(0, 128), 'base64url').toString('utf8').split(':');
  const ms = Number(parts[2]);
  if (
    parts.length !== 3 ||
    parts[0] !== CURSOR_PREFIX ||
    parts[1] !== interval ||
    !Number.isSafeInteger(ms)
  ) {
    throw badInput('Invalid cursor', { field: 'after' });
  }
  return new Date(ms);
}
