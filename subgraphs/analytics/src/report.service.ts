/**
 * Performance and risk reports: loads snapshots, trade aggregates, positions and prices, runs the
 * pure metrics (src/metrics) and caches the result (report.cache.ts).
 */
import { Dec } from '../../../lib/decimal.js';
import type pg from 'pg';
import { withTenant, type TenantScope } from '../../../lib/db.js';
import { badInput, notFound } from '../../../lib/errors.js';
import { AnalyticsRepository, type SnapshotRecord } from './analytics.repository.js';
import type { AnalyticsMetrics } from './analytics.metrics.js';
import type { PerformanceReport, RiskReport } from './generated/resolvers-types.js';
import type { MarketRepository } from './market.repository.js';
import { exposureSummary, type ExposureLine } from './metrics/exposure.js';
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
} from './metrics/returns.js';
import { tradeStatistics } from './metrics/trades.js';
import { historicalTailRisk, VAR_METHOD } from './metrics/var.js';
import type { ReportCache } from './report.cache.js';

export interface ReportSettings {
  riskFreeRate: number;
  benchmarkSymbol: string;
  rollingWindow: number;
  varLookback: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A float the API can carry: NaN and infinities (e.g. annualizing a tiny series) become null. */
function finite(x: number | null): number | null {
  return x !== null && Number.isFinite(x) ? x : null;
}

function toSnapshots(rows: readonly SnapshotRecord[]): EquitySnapshot[] {
  return rows.map((r) => ({ at: r.at, equity: Number(r.equity), externalFlow: Number(r.externalFlow) }));
}

const dayOf = (d: Date): string => d.toISOString().slice(0, 10);

export class ReportService {
  constructor(
    private readonly pool: pg.Pool,
    private readonly market: MarketRepository,
    private readonly cache: ReportCache,
    private readonly metrics: AnalyticsMetrics,
    private readonly settings: ReportSettings,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private checkAccountId(accountId: string): void {
    if (!UUID.test(accountId)) throw notFound('Account');
  }

  /** Performance of an account in [from, to] (cached). */
  async performanceReport(
    scope: TenantScope,
    accountId: string,
    from: Date | null,
    to: Date | null,
  ): Promise<PerformanceReport> {
    this.checkAccountId(accountId);
    if (from && to && from > to) throw badInput('from must not be after to', { field: 'from' });
    const end = this.metrics.reportDuration.startTimer({ report: 'performance' });
    try {
      const variant = `perf:${from?.toISOString() ?? ''}:${to?.toISOString() ?? ''}`;
      return await this.cache.getOrCompute(scope.tenantId, accountId, variant, () =>
        this.computePerformance(scope, accountId, from, to),
      );
    } finally {
      end();
    }
  }

  /** Current risk of an account (cached). */
  async riskReport(scope: TenantScope, accountId: string): Promise<RiskReport> {
    this.checkAccountId(accountId);
    const end = this.metrics.reportDuration.startTimer({ report: 'risk' });
    try {
      return await this.cache.getOrCompute(scope.tenantId, accountId, 'risk', () =>
        this.computeRisk(scope, accountId),
      );
    } finally {
      end();
    }
  }

  private async computePerformance(
    scope: TenantScope,
    accountId: string,
    from: Date | null,
    to: Date | null,
  ): Promise<PerformanceReport> {
    // Snapshots, trade aggregates and benchmark closes are independent reads: run them on separate
    // connections at once, so a cold report costs the slowest of them rather than their sum.
    const [rows, agg, closes] = await Promise.all([
      withTenant(this.pool, scope, async (_tx, client) => {
        const repo = new AnalyticsRepository(client);
        if (!(await repo.accountExists(accountId))) throw notFound('Account');
        return repo.dailySnapshots(accountId, from, to);
      }),
      withTenant(this.pool, scope, (_tx, client) =>
        new AnalyticsRepository(client).tradeAggregates(accountId, from, to),
      ),
      this.market.dailyCloses(this.settings.benchmarkSymbol, from ?? new Date(0), to ?? this.now()),
    ]);
    const rf = this.settings.riskFreeRate;
    const snaps = toSnapshots(rows);
    const returns = periodReturns(snaps);
    const values = returns.map((r) => r.value);
    const total = timeWeightedReturn(values);
    const annualized = finite(annualizedReturn(total, values.length));
    const dd = maxDrawdown(snaps[0]?.at ?? null, returns);
    const ext = extremes(returns);

    let wealth = 1;
    let peak = 1;
    const byAt = new Map(returns.map((r) => [r.at.getTime(), r.value]));
    const equityCurve = rows.map((row, i) => {
      const r = i === 0 ? undefined : byAt.get(row.at.getTime());
      if (r !== undefined) wealth *= 1 + r;
      peak = Math.max(peak, wealth);
      return {
        at: row.at,
        equity: row.equity,
        externalFlow: row.externalFlow,
        cumulativeReturn: wealth - 1,
        drawdown: 1 - wealth / peak,
      };
    });
    const netFlows = rows.slice(1).reduce((s, r) => s.plus(r.externalFlow), new Dec(0));
    const stats = tradeStatistics({
      count: agg.count,
      wins: agg.wins,
      losses: agg.losses,
      grossProfit: new Dec(agg.grossProfit),
      grossLoss: new Dec(agg.grossLoss),
      totalHoldingSeconds: agg.holdingSeconds,
    });
    const money = (d: Dec | null): string | null => (d ? d.toDecimalPlaces(4).toFixed() : null);

    return {
      accountId,
      from: rows[0]?.at ?? null,
      to: rows[rows.length - 1]?.at ?? null,
      observations: values.length,
      totalReturn: finite(total) ?? 0,
      annualizedReturn: annualized,
      volatility: finite(annualizedVolatility(values)),
      sharpe: finite(sharpeRatio(values, rf)),
      sortino: finite(sortinoRatio(values, rf)),
      maxDrawdown: dd.depth,
      drawdown:
        dd.depth > 0 && dd.peakAt && dd.troughAt
          ? {
              depth: dd.depth,
              peakAt: dd.peakAt,
              troughAt: dd.troughAt,
              recoveredAt: dd.recoveredAt,
              durationDays: dd.durationDays,
            }
          : null,
      calmar: finite(calmarRatio(annualized, dd.depth)),
      bestDay: ext ? { at: ext.best.at, return: ext.best.value } : null,
      worstDay: ext ? { at: ext.worst.at, return: ext.worst.value } : null,
      monthlyReturns: monthlyReturns(returns).map((m) => ({ month: m.month, return: m.value })),
      equityCurve,
      startEquity: rows[0]?.equity ?? null,
      endEquity: rows[rows.length - 1]?.equity ?? null,
      netExternalFlows: netFlows.toFixed(),
      riskFreeRate: rf,
      trades: {
        count: stats.count,
        wins: stats.wins,
        losses: stats.losses,
        winRate: finite(stats.winRate),
        profitFactor: finite(stats.profitFactor),
        payoffRatio: finite(stats.payoffRatio),
        totalPnl: stats.totalPnl.toFixed(),
        expectancy: money(stats.expectancy),
        averageWin: money(stats.averageWin),
        averageLoss: money(stats.averageLoss),
        averageHoldingSeconds: finite(stats.averageHoldingSeconds),
      },
      benchmark: this.benchmark(rows, values, closes),
      generatedAt: this.now(),
    };
  }

  /** Alpha and beta on the days where both the account and the benchmark have a return. */
  private benchmark(
    rows: readonly SnapshotRecord[],
    values: readonly number[],
    closes: ReadonlyMap<string, number>,
  ): PerformanceReport['benchmark'] {
    if (rows.length < 3) return null;
    const symbol = this.settings.benchmarkSymbol;
    const r: number[] = [];
    const b: number[] = [];
    for (let i = 1; i < rows.length; i++) {
      const prev = rows[i - 1];
      const cur = rows[i];
      const value = values[i - 1];
      if (!prev || !cur || value === undefined) continue;
      const c0 = closes.get(dayOf(prev.at));
      const c1 = closes.get(dayOf(cur.at));
      if (c0 === undefined || c1 === undefined || c0 <= 0) continue;
      r.push(value);
      b.push(c1 / c0 - 1);
    }
    if (b.length < 2) return null;
    const ab = alphaBeta(r, b, this.settings.riskFreeRate);
    return {
      symbol,
      observations: b.length,
      alpha: finite(ab?.alpha ?? null),
      beta: finite(ab?.beta ?? null),
      correlation: finite(ab?.correlation ?? null),
      benchmarkReturn: timeWeightedReturn(b),
    };
  }

  private async computeRisk(scope: TenantScope, accountId: string): Promise<RiskReport> {
    const { cash, positions, rows } = await withTenant(this.pool, scope, async (_tx, client) => {
      const repo = new AnalyticsRepository(client);
      const c = await repo.cash(accountId);
      if (c === null) throw notFound('Account');
      return {
        cash: c,
        positions: await repo.positions(accountId),
        rows: await repo.recentDailySnapshots(accountId, this.settings.varLookback + 1),
      };
    });
    const symbols = positions.map((p) => p.symbol);
    const [prices, classes] = await Promise.all([
      this.market.latestPrices(symbols),
      this.market.assetClasses(symbols),
    ]);
    const exposure = exposureSummary(
      positions.map((p) => ({
        symbol: p.symbol,
        assetClass: classes.get(p.symbol) ?? 'UNKNOWN',
        quantity: p.quantity,
        // Without any price (no quote, no bar), a position is valued at its average cost.
        price: prices.get(p.symbol) ?? p.averagePrice,
      })),
    );
    const equity = new Dec(cash).plus(exposure.net);
    const returns = periodReturns(toSnapshots(rows));
    const values = returns.map((r) => r.value);
    const t95 = historicalTailRisk(values, 0.95);
    const t99 = historicalTailRisk(values, 0.99);
    const amount = (fraction: number): string =>
      Dec.max(0, equity).times(fraction).toDecimalPlaces(2).toFixed(2);
    const line = (l: ExposureLine): { key: string; gross: string; net: string; share: number } => ({
      key: l.key,
      gross: l.gross.toFixed(),
      net: l.net.toFixed(),
      share: l.share,
    });
    return {
      accountId,
      equity: equity.toDecimalPlaces(4).toFixed(),
      valueAtRisk95: amount(t95.valueAtRisk),
      expectedShortfall95: amount(t95.expectedShortfall),
      valueAtRisk99: amount(t99.valueAtRisk),
      expectedShortfall99: amount(t99.expectedShortfall),
      varMethod: VAR_METHOD,
      horizonDays: 1,
      observations: values.length,
      grossExposure: exposure.gross.toFixed(),
      netExposure: exposure.net.toFixed(),
      exposureBySymbol: exposure.bySymbol.map(line),
      exposureByAssetClass: exposure.byAssetClass.map(line),
      concentration: {
        largestSymbol: exposure.largestSymbol,
        largestShare: exposure.largestShare,
        herfindahl: exposure.herfindahl,
      },
      rollingVolatility: rollingVolatility(returns, this.settings.rollingWindow).map((p) => ({
        at: p.at,
        volatility: p.value,
      })),
      generatedAt: this.now(),
    };
  }
}
