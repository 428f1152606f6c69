import { describe, expect, it } from 'vitest';
import { Dec } from './decimal.js';
import { dayOrderExpiry, feeFor, tradingDay } from './order.types.js';

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
