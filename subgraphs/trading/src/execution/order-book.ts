/**
 * The engine's in-memory index of one symbol's resting orders, across tenants. Orders sit on four
 * price ladders, each sorted so that the orders a price move reaches first come first; a tick takes
 * a prefix of each ladder (O(crossed orders + log levels)), however many orders rest:
 *
 *   buy limits   price descending   crossed while price >= ask
 *   sell limits  price ascending    crossed while price <= bid
 *   buy stops    stop ascending     triggered while stop <= last
 *   sell stops   stop descending    triggered while stop >= last
 */
import type { MarketTick } from '../market/market-tick.js';

export type EntryKind = 'LIMIT' | 'STOP' | 'MARKET';

export interface BookEntry {
  tenantId: string;
  schemaName: string;
  accountId: string;
  orderId: string;
  symbol: string;
  side: 'BUY' | 'SELL';
  kind: EntryKind;
  /** Limit price (LIMIT), stop price (STOP); NaN for MARKET. */
  price: number;
  /** Epoch ms of a DAY order's expiry. */
  expiresAt: number | null;
  /** Epoch ms of the order's creation (time priority within a price). */
  createdAt: number;
}

class Ladder {
  private readonly prices: number[] = [];
  private readonly levels = new Map<number, Map<string, BookEntry>>();

  /** @param descending whether the best (first reached) price is the highest */
  constructor(private readonly descending: boolean) {}

  get size(): number {
    let n = 0;
    for (const l of this.levels.values()) n += l.size;
    return n;
  }

  add(e: BookEntry): void {
    let level = this.levels.get(e.price);
    if (!level) {
      level = new Map();
      this.levels.set(e.price, level);
      const i = this.indexOf(e.price);
      this.prices.splice(i, 0, e.price);
    }
    level.set(e.orderId, e);
  }

  remove(e: BookEntry): void {
    const level = this.levels.get(e.price);
    if (!level) return;
    level.delete(e.orderId);
    if (level.size === 0) {
      this.levels.delete(e.price);
      const i = this.indexOf(e.price);
      if (this.prices[i] === e.price) this.prices.splice(i, 1);
    }
  }

  /** Removes and returns the entries of every level `reached` says the move reached, best first. */
  takeWhile(reached: (price: number) => boolean): BookEntry[] {
    const out: BookEntry[] = [];
    let n = 0;
    while (n < this.prices.length && reached(this.prices[n] as number)) {
      const p = this.prices[n] as number;
      const level = this.levels.get(p);
      if (level) out.push(...[...level.values()].sort((a, b) => a.createdAt - b.createdAt));
      this.levels.delete(p);
      n++;
    }
    if (n > 0) this.prices.splice(0, n);
    return out;
  }

  *entries(): Iterable<BookEntry> {
    for (const l of this.levels.values()) yield* l.values();
  }

  /** Insertion index of `price` (binary search in the ladder's order). */
  private indexOf(price: number): number {
    let lo = 0;
    let hi = this.prices.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const p = this.prices[mid] as number;
      const before = this.descending ? p > price : p < price;
      if (before) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/**
 * plus market orders that still have quantity to fill (liquidity-capped), taken on every tick.
 * Prices are tick-aligned decimals with few significant digits, so doubles order them exactly.
 * The index is a cache of the database: entries are re-checked under row locks before anything fills.
 */
export class SymbolBook {
  private readonly buyLimits = new Ladder(true);
  private readonly sellLimits = new Ladder(false);
  private readonly buyStops = new Ladder(false);
  private readonly sellStops = new Ladder(true);
  private readonly markets = new Map<string, BookEntry>();
  private readonly byId = new Map<string, BookEntry>();

  get size(): number {
    return this.byId.size;
  }

  has(orderId: string): boolean {
    return this.byId.has(orderId);
  }

  /** Adds (or moves) an entry. */
  add(e: BookEntry): void {
    this.remove(e.orderId);
    this.byId.set(e.orderId, e);
    if (e.kind === 'MARKET') this.markets.set(e.orderId, e);
    else this.ladderOf(e).add(e);
  }

  remove(orderId: string): void {
    const e = this.byId.get(orderId);
    if (!e) return;
    this.byId.delete(orderId);
    if (e.kind === 'MARKET') this.markets.delete(orderId);
    else this.ladderOf(e).remove(e);
  }

  /**
   * Removes and returns the entries a tick reaches: triggered stops, crossed limits and market
   * orders, oldest first within a price. The caller re-adds those still open after processing.
   */
  collect(tick: MarketTick): BookEntry[] {
    const ask = Number(tick.ask);
    const bid = Number(tick.bid);
    const last = Number(tick.price);
    const out = [
      ...this.markets.values(),
      ...this.buyStops.takeWhile((stop) => stop <= last),
      ...this.sellStops.takeWhile((stop) => stop >= last),
      ...this.buyLimits.takeWhile((limit) => limit >= ask),
      ...this.sellLimits.takeWhile((limit) => limit <= bid),
    ];
    this.markets.clear();
    for (const e of out) this.byId.delete(e.orderId);
    return out;
  }

  /** Removes and returns DAY orders whose expiry is at or before `now`. */
  collectExpired(now: number): BookEntry[] {
    const out = [...this.byId.values()].filter((e) => e.expiresAt !== null && e.expiresAt <= now);
    for (const e of out) this.remove(e.orderId);
    return out;
  }

  entries(): BookEntry[] {
    return [...this.byId.values()];
  }

  private ladderOf(e: BookEntry): Ladder {
    if (e.kind === 'LIMIT') return e.side === 'BUY' ? this.buyLimits : this.sellLimits;
    return e.side === 'BUY' ? this.buyStops : this.sellStops;
  }
}
