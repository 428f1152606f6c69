/**
 * A batch plan applies fills in memory as one transaction per fill did: duplicates (in the database
 * or earlier in the batch) change nothing, the lot is rounded to its column's scale after each fill,
 * and the write statement carries the final lot and every closed round trip.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BatchPlan, batchReadStatement, type BatchFill } from '../src/trade-batch.js';

const account = randomUUID();
const fill = (tradeId: string, side: 'BUY' | 'SELL', quantity: string, price: string): BatchFill => ({
  tradeId,
  accountId: account,
  symbol: 'AAPL',
  side,
  quantity,
  price,
  executedAt: new Date('2026-12-01T12:00:00Z'),
});

describe('trade batch plan', () => {
  it('applies fills in order, skips duplicates, and writes the final lot and the round trips', () => {
    const plan = new BatchPlan({ applied: ['t0'], seen: [account], lots: [] });
    expect(plan.apply(fill('t0', 'BUY', '100', '1'))).toBe(false);
    expect(plan.apply(fill('t1', 'BUY', '3', '10'))).toBe(true);
    expect(plan.apply(fill('t1', 'BUY', '3', '10'))).toBe(false);
    expect(plan.apply(fill('t2', 'BUY', '3', '11'))).toBe(true);
    expect(plan.apply(fill('t3', 'SELL', '4', '12'))).toBe(true);
    const sql = plan.writeStatement() ?? '';
    expect(sql.match(/INSERT INTO applied_trades/g)).toHaveLength(1);
    expect(sql).toContain("('t1', ");
    expect(sql).not.toContain("('t0', ");
    // 3 @ 10 + 3 @ 11: average 10.5; 4 sold at 12 close a LONG of 4 with P&L 6; 2 left at 10.5.
    expect(sql).toContain(`'2.0000000000'::numeric, '10.5'::numeric`);
    expect(sql).toContain(`'LONG', '4'::numeric, '10.5'::numeric, '12'::numeric, '6'::numeric`);
  });

  it('rounds the average price to the column scale after each fill, as the stored row is', () => {
    const plan = new BatchPlan({ applied: [], seen: [account], lots: [] });
    plan.apply(fill('a', 'BUY', '1', '1'));
    plan.apply(fill('b', 'BUY', '2', '2'));
    // 5 / 3 = 1.666...: the lot holds 1.6666666667, and the round trip's entry price is that.
    plan.apply(fill('c', 'SELL', '3', '2'));
    expect(plan.writeStatement()).toContain(`'LONG', '3'::numeric, '1.6666666667'::numeric`);
  });

  it('deletes a lot closed flat, starts from stored lots, and writes nothing for duplicates only', () => {
    const plan = new BatchPlan({
      applied: [],
      seen: [account],
      lots: [
        {
          accountId: account,
          symbol: 'AAPL',
          quantity: '2',
          averagePrice: '5',
          openedAt: '2026-11-30T10:00:00Z',
        },
      ],
    });
    plan.apply(fill('s', 'SELL', '2', '6'));
    const sql = plan.writeStatement() ?? '';
    expect(sql).toContain('DELETE FROM trade_lots');
    expect(sql).not.toContain('INSERT INTO trade_lots');
    expect(sql).toContain(`'2026-11-30T10:00:00.000Z'::timestamptz`);
    expect(new BatchPlan({ applied: ['x'], seen: [], lots: [] }).writeStatement()).toBeNull();
  });

  it('locks accounts in sorted order and quotes every value', () => {
    const [a, b] = [randomUUID(), randomUUID()].sort();
    const sql = batchReadStatement([
      { ...fill("it's", 'BUY', '1', '1'), accountId: b! },
      { ...fill('y', 'BUY', '1', '1'), accountId: a! },
    ]);
    expect(sql.indexOf(`analytics:${a}`)).toBeLessThan(sql.indexOf(`analytics:${b}`));
    expect(sql).toContain(`'it''s'`);
    expect(() => batchReadStatement([{ ...fill('z', 'BUY', '1', '1'), accountId: "x'; DROP" }])).toThrow();
  });
});
