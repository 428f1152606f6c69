/** Parsing of trade stream entries: the documented flat payload, JSON variants, and rejects. */
import { describe, expect, it } from 'vitest';
import { parseTradeEntry } from '../src/trade-event.js';

const T = '0f8fad5b-d9cb-469f-a165-70867728950e';
const A = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const flat = {
  tenantId: T,
  accountId: A,
  symbol: 'AAPL',
  side: 'BUY',
  quantity: '10',
  price: '189.23',
  executedAt: '2024-01-02T15:00:00Z',
  orderId: 'o-1',
  tradeId: 'e-1',
};
const fields = (o: Record<string, string>): string[] => Object.entries(o).flat();

describe('trade stream entries', () => {
  it('parse the documented flat payload', () => {
    expect(parseTradeEntry(fields(flat))).toEqual({
      ...flat,
      side: 'BUY',
      executedAt: new Date('2024-01-02T15:00:00Z'),
    });
  });

  it("parse JSON in one field, and trading's execution shape", () => {
    expect(parseTradeEntry(['data', JSON.stringify(flat)])?.tradeId).toBe('e-1');
    const nested = {
      tenantId: T,
      execution: {
        id: 'e-2',
        accountId: A,
        symbol: 'MSFT',
        side: 'SELL',
        quantity: '1',
        price: '400',
        executedAt: flat.executedAt,
        orderId: 'o-2',
      },
    };
    expect(parseTradeEntry(['event', JSON.stringify(nested)])).toMatchObject({
      tradeId: 'e-2',
      accountId: A,
      side: 'SELL',
      orderId: 'o-2',
    });
  });

  it('reject malformed or hostile entries', () => {
    for (const bad of [
      { ...flat, tenantId: 'x' },
      { ...flat, accountId: "'; DROP TABLE x; --" },
      { ...flat, side: 'HOLD' },
      { ...flat, quantity: '0' },
      { ...flat, quantity: '-1' },
      { ...flat, price: '1e9' },
      { ...flat, executedAt: 'yesterday' },
      { ...flat, symbol: '' },
    ]) {
      expect(parseTradeEntry(fields(bad))).toBeNull();
    }
    expect(parseTradeEntry([])).toBeNull();
    expect(parseTradeEntry(['data', '{not json'])).toBeNull();
  });
});
