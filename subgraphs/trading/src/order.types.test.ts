import { describe, expect, it } from 'vitest';
import { Dec } from './decimal.js';
import type { AppError } from '../../../lib/errors.js';
import type { OrderRow } from './db/tenant-schema.js';
import { dayOrderExpiry, feeFor, tradingDay, validateOrder, validateReplacement } from './order.types.js';

const END = 20 * 60;

describe('trading days', () => {
  it('DAY orders expire at the next cutoff after they were placed', () => {
    expect(dayOrderExpiry(Date.parse('2030-03-04T15:00:00Z'), END).toISOString()).toBe(
      '2030-03-04T20:00:00.000Z',
    );
    expect(dayOrderExpiry(Date.parse('2030-03-04T20:00:00Z'), END).toISOString()).toBe(
      '2030-03-05T20:00:00.000Z',
    );
    expect(tradingDay(Date.parse('2030-03-04T19:59:59Z'), END)).toBe('2030-03-04');
    expect(tradingDay(Date.parse('2030-03-04T21:00:00Z'), END)).toBe('2030-03-05');
  });
});

describe('fees', () => {
  it('are basis points of the notional with a minimum, rounded to the ledger scale', () => {
    const pricing = { feeBps: new Dec(5), feeMin: new Dec('0.5') };
    expect(feeFor(new Dec('10000'), pricing).toFixed()).toBe('5');
    expect(feeFor(new Dec('100'), pricing).toFixed()).toBe('0.5');
    expect(feeFor(new Dec('1234.5678'), pricing).toFixed()).toBe('0.6173');
    expect(feeFor(new Dec('1000'), { feeBps: new Dec(0), feeMin: new Dec(0) }).toFixed()).toBe('0');
  });
});

describe('order validation', () => {
  const input = {
    accountId: 'A0000000-0000-4000-8000-000000000001',
    clientOrderId: 'c-1',
    symbol: 'AAPL',
    side: 'BUY' as const,
    type: 'STOP_LIMIT' as const,
    quantity: '10',
    limitPrice: '101',
    stopPrice: '100',
  };
  const fieldOf = (fn: () => unknown): unknown => {
    try {
      fn();
      return null;
    } catch (err) {
      return (err as AppError).details['field'];
    }
  };

  it('makes an intent with defaults, or names the field that is wrong', () => {
    const intent = validateOrder(input);
    expect([intent.accountId, intent.timeInForce, intent.quantity.toFixed()]).toEqual([
      'a0000000-0000-4000-8000-000000000001',
      'DAY',
      '10',
    ]);
    expect(fieldOf(() => validateOrder({ ...input, limitPrice: null }))).toBe('limitPrice');
    expect(fieldOf(() => validateOrder({ ...input, timeInForce: 'IOC' }))).toBe('timeInForce');
    expect(fieldOf(() => validateOrder({ ...input, quantity: '0.00000000001' }))).toBe('quantity');
    expect(fieldOf(() => validateOrder({ ...input, accountId: 'x' }))).toBe('accountId');
  });

  it('replaces an order with its own fields and the remaining quantity unless changed; never a market order', () => {
    const original = {
      ...input,
      accountId: input.accountId.toLowerCase(),
      timeInForce: 'GTC' as const,
      quantity: '10',
      filledQuantity: '4',
    } as OrderRow;
    const intent = validateReplacement(original, { clientOrderId: 'c-2', limitPrice: '102' });
    expect([intent.quantity.toFixed(), intent.limitPrice?.toFixed(), intent.stopPrice?.toFixed()]).toEqual([
      '6',
      '102',
      '100',
    ]);
    expect(intent.timeInForce).toBe('GTC');
    const market = { ...original, type: 'MARKET', limitPrice: null, stopPrice: null } as OrderRow;
    expect(fieldOf(() => validateReplacement(market, { clientOrderId: 'c-3' }))).toBe('id');
  });
});
