import { Dec } from '../../../../lib/decimal.js';
/**
 * Statistics of closed trades (round trips). A trade is a win when its P&L is > 0 and a loss when
 * < 0; break-even trades count in the total only. Money figures are exact decimals.
 * - win rate = wins / trades
 * - profit factor = gross profit / |gross loss|
 * - payoff ratio = average win / |average loss|
 * - expectancy = total P&L / trades (the average P&L per trade)
 * - average holding time = mean of (closedAt - openedAt), in seconds
 */

/** One closed round trip. */
export interface ClosedTrade {
  pnl: string;
  openedAt: Date;
  closedAt: Date;
}

/** Sums a repository can compute in SQL; {@link tradeStatistics} derives the ratios from them. */
export interface TradeAggregates {
  count: number;
  wins: number;
  losses: number;
  grossProfit: Dec;
  /** Sum of the losing trades' P&L (<= 0). */
  grossLoss: Dec;
  totalHoldingSeconds: number;
}

export interface TradeStatistics {
  count: number;
  wins: number;
  losses: number;
  winRate: number | null;
  profitFactor: number | null;
  payoffRatio: number | null;
  totalPnl: Dec;
  expectancy: Dec | null;
  averageWin: Dec | null;
  /** Positive amount. */
  averageLoss: Dec | null;
  averageHoldingSeconds: number | null;
}

/** Aggregates of a list of closed trades. */
export function aggregateTrades(trades: readonly ClosedTrade[]): TradeAggregates {
  const agg: TradeAggregates = {
    count: 0,
    wins: 0,
    losses: 0,
    grossProfit: new Dec(0),
    grossLoss: new Dec(0),
    totalHoldingSeconds: 0,
  };
  for (const t of trades) {
    const pnl = new Dec(t.pnl);
    agg.count++;
    if (pnl.gt(0)) {
      agg.wins++;
      agg.grossProfit = agg.grossProfit.plus(pnl);
    } else if (pnl.lt(0)) {
      agg.losses++;
      agg.grossLoss = agg.grossLoss.plus(pnl);
    }
    agg.totalHoldingSeconds += (t.closedAt.getTime() - t.openedAt.getTime()) / 1000;
  }
  return agg;
}

/** Ratios of {@link TradeAggregates}; undefined ratios (a zero denominator) are null. */
export function tradeStatistics(a: TradeAggregates): TradeStatistics {
  const totalPnl = a.grossProfit.plus(a.grossLoss);
  const averageWin = a.wins > 0 ? a.grossProfit.div(a.wins) : null;
  const averageLoss = a.losses > 0 ? a.grossLoss.abs().div(a.losses) : null;
  return {
    count: a.count,
    wins: a.wins,
    losses: a.losses,
    winRate: a.count > 0 ? a.wins / a.count : null,
    profitFactor: a.grossLoss.isZero() ? null : a.grossProfit.div(a.grossLoss.abs()).toNumber(),
    payoffRatio: averageWin && averageLoss ? averageWin.div(averageLoss).toNumber() : null,
    totalPnl,
    expectancy: a.count > 0 ? totalPnl.div(a.count) : null,
    averageWin,
    averageLoss,
    averageHoldingSeconds: a.count > 0 ? a.totalHoldingSeconds / a.count : null,
  };
}
