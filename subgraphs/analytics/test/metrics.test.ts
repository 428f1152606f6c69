/**
 * The metrics library against values computed by hand (shown next to each expectation) on small
 * fixed series, including the edge cases: no trades, one day, all losses, zero volatility.
 */
import { Dec } from '../../../lib/decimal.js';
import { describe, expect, it } from 'vitest';
import { exposureSummary } from '../src/metrics/exposure.js';
import { applyFill, type Lot } from '../src/metrics/lots.js';
import {
  alphaBeta,
  annualizedReturn,
  annualizedVolatility,
  calmarRatio,
  extremes,
  maxDrawdown,
  monthlyReturns,
  periodReturns,
  rollingVolatility,
  sharpeRatio,
  sortinoRatio,
  timeWeightedReturn,
  type EquitySnapshot,
} from '../src/metrics/returns.js';
import { aggregateTrades, tradeStatistics } from '../src/metrics/trades.js';
import { historicalTailRisk } from '../src/metrics/var.js';

const SQRT252 = 15.874507866387544;
const day = (n: number): Date => new Date(Date.UTC(2024, 0, 1 + n));
const series = (equities: number[], flows: number[] = []): EquitySnapshot[] =>
  equities.map((equity, i) => ({ at: day(i), equity, externalFlow: flows[i] ?? 0 }));
const values = (s: EquitySnapshot[]): number[] => periodReturns(s).map((r) => r.value);

describe('returns', () => {
  // 100 -> 110 -> 99 -> 108.9: +10 %, -10 %, +10 %.
  const up = values(series([100, 110, 99, 108.9]));

  it('period returns and TWR', () => {
    expect(up[0]).toBeCloseTo(0.1, 12);
    expect(up[1]).toBeCloseTo(-0.1, 12);
    expect(up[2]).toBeCloseTo(0.1, 12);
    expect(timeWeightedReturn(up)).toBeCloseTo(0.089, 12); // 1.1 * 0.9 * 1.1 - 1
  });

  it('TWR is unchanged by a deposit in the middle of a series', () => {
    const plain = values(series([100, 110, 121]));
    // 1,000 deposited on day 1 (included in that day's equity): 1110 = 110 + 1000, then +10 %.
    const withDeposit = values(series([100, 1110, 1221], [0, 1000, 0]));
    expect(timeWeightedReturn(withDeposit)).toBeCloseTo(0.21, 12);
    expect(timeWeightedReturn(withDeposit)).toBeCloseTo(timeWeightedReturn(plain), 12);
    // A withdrawal too: 121 - 21 withdrawn = 100 -> 110: still +10 % per day.
    const withdrawal = values(series([100, 110, 100, 110], [0, 0, -21, 0]));
    expect(withdrawal[1]).toBeCloseTo(0.1, 12);
    expect(timeWeightedReturn(withdrawal)).toBeCloseTo(0.331, 12);
  });

  it('annualized return over 252 days', () => {
    // (1.089)^(252/3) - 1
    expect(annualizedReturn(0.089, 3)).toBeCloseTo(1288.2641288883594, 6);
    expect(annualizedReturn(0.1, 252)).toBeCloseTo(0.1, 12);
    expect(annualizedReturn(0, 0)).toBeNull();
    expect(annualizedReturn(-1, 10)).toBeNull();
  });

  it('volatility, Sharpe and Sortino', () => {
    // mean 1/30; deviations 0.0667, -0.1333, 0.0667; sum sq 0.026667 / 2 -> sd 0.11547005
    expect(annualizedVolatility(up)).toBeCloseTo(0.1154700538 * SQRT252, 8);
    expect(sharpeRatio(up, 0)).toBeCloseTo((1 / 30 / 0.1154700538) * SQRT252, 8); // 4.5826
    // risk-free 2.52 % a year = 0.0001 a day
    expect(sharpeRatio(up, 0.0252)).toBeCloseTo(((1 / 30 - 0.0001) / 0.1154700538) * SQRT252, 8);
    // downside: only -0.1 -> sqrt(0.01 / 3) = 0.0577350
    expect(sortinoRatio(up, 0)).toBeCloseTo((1 / 30 / 0.0577350269) * SQRT252, 8); // 9.1652
  });

  it('max drawdown with dates and duration, and Calmar', () => {
    const r = periodReturns(series([100, 110, 99, 108.9]));
    const dd = maxDrawdown(day(0), r);
    expect(dd.depth).toBeCloseTo(0.1, 12); // 1 - 0.99 / 1.1
    expect(dd.peakAt).toEqual(day(1));
    expect(dd.troughAt).toEqual(day(2));
    expect(dd.recoveredAt).toBeNull();
    expect(dd.durationDays).toBe(2); // peak to the last observation
    const recovered = maxDrawdown(day(0), periodReturns(series([100, 110, 99, 105, 121])));
    expect(recovered.recoveredAt).toEqual(day(4));
    expect(recovered.durationDays).toBe(3);
    expect(calmarRatio(0.2, 0.1)).toBeCloseTo(2, 12);
    expect(calmarRatio(0.2, 0)).toBeNull();
  });

  it('drawdown ignores a deposit during a fall', () => {
    // Three days of -10 % with 1,000 deposited on day 2: equity rises, the index falls to 0.729.
    const dd = maxDrawdown(day(0), periodReturns(series([100, 90, 1081, 972.9], [0, 0, 1000, 0])));
    expect(dd.depth).toBeCloseTo(0.271, 12); // 1 - 0.9^3
    expect(dd.troughAt).toEqual(day(3));
  });

  it('best and worst day, monthly returns', () => {
    const r = periodReturns([
      { at: new Date('2024-01-29T00:00:00Z'), equity: 100, externalFlow: 0 },
      { at: new Date('2024-01-30T00:00:00Z'), equity: 110, externalFlow: 0 },
      { at: new Date('2024-01-31T00:00:00Z'), equity: 99, externalFlow: 0 },
      { at: new Date('2024-02-01T00:00:00Z'), equity: 108.9, externalFlow: 0 },
    ]);
    const e = extremes(r);
    expect(e?.best.at).toEqual(new Date('2024-01-30T00:00:00Z')); // first of the two +10 % days
    expect(e?.worst.value).toBeCloseTo(-0.1, 12);
    const m = monthlyReturns(r);
    expect(m.map((x) => x.month)).toEqual(['2024-01', '2024-02']);
    expect(m[0]?.value).toBeCloseTo(-0.01, 12); // 1.1 * 0.9 - 1
    expect(m[1]?.value).toBeCloseTo(0.1, 12);
  });

  it('rolling volatility', () => {
    const r = periodReturns(series([100, 110, 99, 108.9]));
    const rv = rollingVolatility(r, 2);
    expect(rv).toHaveLength(2);
    // sd of (0.1, -0.1) = 0.1414214
    expect(rv[0]?.value).toBeCloseTo(Math.SQRT2 * 0.1 * SQRT252, 8);
    expect(rv[1]?.at).toEqual(day(3));
    expect(rollingVolatility(r, 5)).toEqual([]);
  });

  it('alpha and beta against a benchmark', () => {
    const b = [0.01, -0.02, 0.03];
    const r = b.map((x) => 2 * x + 0.001);
    const ab = alphaBeta(r, b, 0);
    expect(ab?.beta).toBeCloseTo(2, 10);
    expect(ab?.alpha).toBeCloseTo(0.252, 10); // 0.001 a day * 252
    expect(ab?.correlation).toBeCloseTo(1, 10);
    // with rf: alpha = (mean r - rf_d - 2 (mean b - rf_d)) * 252 = (0.001 + rf_d) * 252
    expect(alphaBeta(r, b, 0.0252)?.alpha).toBeCloseTo((0.001 + 0.0001) * 252, 10);
    expect(alphaBeta(r, [0.01, 0.01, 0.01], 0)).toBeNull(); // flat benchmark
    expect(alphaBeta([0.1], [0.1], 0)).toBeNull();
  });

  it('one day: no returns at all', () => {
    const r = periodReturns(series([100]));
    expect(r).toEqual([]);
    expect(timeWeightedReturn([])).toBe(0);
    expect(annualizedReturn(0, 0)).toBeNull();
    expect(annualizedVolatility([])).toBeNull();
    expect(sharpeRatio([], 0)).toBeNull();
    expect(sortinoRatio([], 0)).toBeNull();
    expect(maxDrawdown(day(0), r)).toMatchObject({ depth: 0, troughAt: null, durationDays: 0 });
    expect(extremes(r)).toBeNull();
    expect(monthlyReturns(r)).toEqual([]);
  });

  it('zero volatility: ratios are undefined, not infinite', () => {
    const r = values(series([100, 101, 102.01]));
    expect(annualizedVolatility(r)).toBeCloseTo(0, 12);
    expect(sharpeRatio(r, 0)).toBeNull();
    expect(sortinoRatio(r, 0)).toBeNull(); // no downside either
    expect(maxDrawdown(day(0), periodReturns(series([100, 101, 102.01]))).depth).toBe(0);
  });

  it('all losses', () => {
    const s = series([100, 90, 81]);
    const r = values(s);
    expect(timeWeightedReturn(r)).toBeCloseTo(-0.19, 12);
    expect(sharpeRatio(r, 0)).toBeNull(); // two equal returns: zero volatility
    expect(sortinoRatio(r, 0)).toBeCloseTo(-SQRT252, 8); // -0.1 / 0.1 * sqrt(252)
    const dd = maxDrawdown(day(0), periodReturns(s));
    expect(dd.depth).toBeCloseTo(0.19, 12);
    expect(dd.peakAt).toEqual(day(0));
    expect(dd.troughAt).toEqual(day(2));
    expect(dd.durationDays).toBe(2);
    expect(historicalTailRisk(r, 0.95).valueAtRisk).toBeCloseTo(0.1, 12);
  });
});

describe('historical VaR and expected shortfall', () => {
  // 40 returns: -5 %, -4 %, -3 %, -2 %, -1 % and 35 of +1 %.
  const r = [-0.05, -0.04, -0.03, -0.02, -0.01, ...Array.from({ length: 35 }, () => 0.01)];

  it('takes the m-th worst return, m = ceil((1 - c) * n)', () => {
    const t95 = historicalTailRisk(r, 0.95); // m = 2
    expect(t95.tailCount).toBe(2);
    expect(t95.valueAtRisk).toBeCloseTo(0.04, 12);
    expect(t95.expectedShortfall).toBeCloseTo(0.045, 12); // (0.05 + 0.04) / 2
    const t99 = historicalTailRisk(r, 0.99); // m = ceil(0.4) = 1
    expect(t99.valueAtRisk).toBeCloseTo(0.05, 12);
    expect(t99.expectedShortfall).toBeCloseTo(0.05, 12);
  });

  it('is zero for no history or gains only', () => {
    expect(historicalTailRisk([], 0.95)).toEqual({ valueAtRisk: 0, expectedShortfall: 0, tailCount: 0 });
    expect(historicalTailRisk([0.01, 0.02], 0.95).valueAtRisk).toBe(0);
  });
});

describe('exposure and concentration', () => {
  it('gross, net, by symbol and asset class, largest share and HHI', () => {
    const e = exposureSummary([
      { symbol: 'AAPL', assetClass: 'EQUITY', quantity: '10', price: '100' },
      { symbol: 'TSLA', assetClass: 'EQUITY', quantity: '-5', price: '200' },
      { symbol: 'BTC-USD', assetClass: 'CRYPTO', quantity: '0.5', price: '40000' },
      { symbol: 'FLAT', assetClass: 'EQUITY', quantity: '0', price: '10' },
    ]);
    expect(e.gross.toString()).toBe('22000');
    expect(e.net.toString()).toBe('20000');
    expect(e.bySymbol.map((l) => l.key)).toEqual(['BTC-USD', 'AAPL', 'TSLA']);
    expect(e.largestSymbol).toBe('BTC-USD');
    expect(e.largestShare).toBeCloseTo(20000 / 22000, 12);
    expect(e.herfindahl).toBeCloseTo((10 / 11) ** 2 + 2 * (1 / 22) ** 2, 12); // 0.830579
    const equity = e.byAssetClass.find((l) => l.key === 'EQUITY');
    expect(equity?.gross.toString()).toBe('2000');
    expect(equity?.net.toString()).toBe('0');
  });

  it('is empty without positions', () => {
    const e = exposureSummary([]);
    expect(e.gross.toString()).toBe('0');
    expect(e.largestShare).toBeNull();
    expect(e.herfindahl).toBe(0);
  });
});

describe('trade statistics', () => {
  const t = (pnl: string, hours: number): { pnl: string; openedAt: Date; closedAt: Date } => ({
    pnl,
    openedAt: day(0),
    closedAt: new Date(day(0).getTime() + hours * 3_600_000),
  });

  it('win rate, profit factor, payoff, expectancy, holding time', () => {
    const s = tradeStatistics(
      aggregateTrades([t('100', 1), t('-50', 2), t('30', 3), t('-20', 4), t('0', 5)]),
    );
    expect(s).toMatchObject({ count: 5, wins: 2, losses: 2 });
    expect(s.winRate).toBeCloseTo(0.4, 12);
    expect(s.profitFactor).toBeCloseTo(130 / 70, 12);
    expect(s.averageWin?.toString()).toBe('65');
    expect(s.averageLoss?.toString()).toBe('35');
    expect(s.payoffRatio).toBeCloseTo(65 / 35, 12);
    expect(s.totalPnl.toString()).toBe('60');
    expect(s.expectancy?.toString()).toBe('12');
    expect(s.averageHoldingSeconds).toBe(3 * 3600);
  });

  it('no trades', () => {
    const s = tradeStatistics(aggregateTrades([]));
    expect(s).toMatchObject({
      count: 0,
      winRate: null,
      profitFactor: null,
      payoffRatio: null,
      expectancy: null,
      averageHoldingSeconds: null,
    });
    expect(s.totalPnl.toString()).toBe('0');
  });

  it('all losses', () => {
    const s = tradeStatistics(aggregateTrades([t('-10', 1), t('-30', 1)]));
    expect(s.winRate).toBe(0);
    expect(s.profitFactor).toBe(0);
    expect(s.payoffRatio).toBeNull();
    expect(s.expectancy?.toString()).toBe('-20');
  });
});

describe('round trips by average cost', () => {
  it('adds, reduces, flips and closes', () => {
    const d = (v: string | number): Dec => new Dec(v);
    let lot: Lot | null = null;
    const fill = (side: 'BUY' | 'SELL', q: number, p: number, n: number) => {
      const r = applyFill(lot, { side, quantity: d(q), price: d(p), at: day(n) });
      lot = r.lot;
      return r.closed;
    };
    expect(fill('BUY', 10, 100, 0)).toBeNull();
    expect(fill('BUY', 10, 110, 1)).toBeNull();
    expect(lot!.averagePrice.toString()).toBe('105');
    const c1 = fill('SELL', 15, 120, 2);
    expect(c1).toMatchObject({ direction: 'LONG', openedAt: day(0), closedAt: day(2) });
    expect(c1?.pnl.toString()).toBe('225'); // (120 - 105) * 15
    const c2 = fill('SELL', 10, 100, 3); // closes 5 long, opens 5 short at 100
    expect(c2?.pnl.toString()).toBe('-25');
    expect(lot!.quantity.toString()).toBe('-5');
    expect(lot!.openedAt).toEqual(day(3));
    const c3 = fill('BUY', 5, 90, 4);
    expect(c3).toMatchObject({ direction: 'SHORT' });
    expect(c3?.pnl.toString()).toBe('50'); // (100 - 90) * 5
    expect(lot).toBeNull();
  });
});
