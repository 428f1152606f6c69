import { describe, expect, it } from 'vitest';
import type { MarketTick } from '../market/market-tick.js';
import { SymbolBook, type BookEntry } from './order-book.js';

let n = 0;
function entry(
  side: 'BUY' | 'SELL',
  kind: BookEntry['kind'],
  price: number,
  over: Partial<BookEntry> = {},
): BookEntry {
  n++;
  return {
    tenantId: 't',
    schemaName: 't_x',
    accountId: 'a',
    orderId: `o${n}`,
    symbol: 'AAPL',
    side,
    kind,
    price,
    expiresAt: null,
    createdAt: n,
    ...over,
  };
}
const tick = (price: string, bid: string, ask: string): MarketTick => ({
  symbol: 'AAPL',
  price,
  bid,
  ask,
  size: '1',
  ts: 1,
  seq: 1,
});

describe('SymbolBook', () => {
  it('takes exactly the limits a tick crosses, best price first, oldest first within a price', () => {
    const book = new SymbolBook();
    const b1 = entry('BUY', 'LIMIT', 99);
    const b2 = entry('BUY', 'LIMIT', 100);
    const b3 = entry('BUY', 'LIMIT', 100);
    const s1 = entry('SELL', 'LIMIT', 101);
    for (const e of [b1, b2, b3, s1]) book.add(e);
    expect(book.collect(tick('100.5', '100.4', '100.6'))).toEqual([]);
    expect(book.collect(tick('100', '99.9', '100')).map((e) => e.orderId)).toEqual([b2.orderId, b3.orderId]);
    expect(book.size).toBe(2);
    expect(book.collect(tick('101', '101', '101.1')).map((e) => e.orderId)).toEqual([s1.orderId]);
    expect(book.collect(tick('98', '97.9', '98.1')).map((e) => e.orderId)).toEqual([b1.orderId]);
    expect(book.size).toBe(0);
  });

  it('triggers stops on the last price, takes market orders on every tick, and forgets removed orders', () => {
    const book = new SymbolBook();
    const buyStop = entry('BUY', 'STOP', 105);
    const sellStop = entry('SELL', 'STOP', 95);
    const market = entry('BUY', 'MARKET', Number.NaN);
    const gone = entry('BUY', 'LIMIT', 200);
    for (const e of [buyStop, sellStop, market, gone]) book.add(e);
    book.remove(gone.orderId);
    expect(book.collect(tick('100', '99.9', '100.1')).map((e) => e.orderId)).toEqual([market.orderId]);
    expect(book.collect(tick('105', '104.9', '105.1')).map((e) => e.orderId)).toEqual([buyStop.orderId]);
    expect(book.collect(tick('95', '94.9', '95.1')).map((e) => e.orderId)).toEqual([sellStop.orderId]);
  });

  it('moves an entry that is added again and expires DAY orders', () => {
    const book = new SymbolBook();
    const e = entry('BUY', 'STOP', 105, { expiresAt: 10 });
    book.add(e);
    book.add({ ...e, kind: 'LIMIT', price: 104 });
    expect(book.size).toBe(1);
    expect(book.collectExpired(9)).toEqual([]);
    expect(book.collectExpired(10).map((x) => x.kind)).toEqual(['LIMIT']);
    expect(book.size).toBe(0);
  });
});
