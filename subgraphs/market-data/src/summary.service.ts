import { badInput } from '../../../lib/errors.js';
import type { BarRepository } from './bar.repository.js';
import { ASSET_CLASSES, type AssetClass } from './db/schema.js';
import { Dec } from './decimal.js';
import type { InstrumentCatalog } from './instrument.catalog.js';
import { SECONDS_PER_YEAR } from './interval.js';

export interface MoverModel {
  symbol: string;
  open: string;
  last: string;
  change: string;
  changePercent: string;
  volume: string;
  notional: string;
}

export interface VolatilityModel {
  symbol: string;
  volatility: string;
  samples: number;
}

export interface MarketSummaryModel {
  asOf: Date;
  gainers: MoverModel[];
  losers: MoverModel[];
  mostActive: MoverModel[];
  mostVolatile: VolatilityModel[];
}

const MAX_LIMIT = 50;
const MAX_WINDOW_MINUTES = 1_440;
const MINUTES_PER_YEAR = SECONDS_PER_YEAR / 60;

/**
 * The market overview: movers over a rolling 24 hours (from 1-hour bars: first open, last close,
 * volume and notional) and a volatility ranking from 1-minute log returns over a recent window
 * (standard deviation in Postgres numerics, annualized over calendar minutes).
 */
export class SummaryService {
  constructor(
    private readonly bars: BarRepository,
    private readonly catalog: InstrumentCatalog,
    private readonly now: () => number = Date.now,
  ) {}

  /** @throws AppError BAD_USER_INPUT for a bad limit, window or asset class */
  async summary(args: {
    limit?: number | null | undefined;
    assetClass?: string | null | undefined;
    volatilityWindowMinutes?: number | null | undefined;
  }): Promise<MarketSummaryModel> {
    const limit = args.limit ?? 5;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
      throw badInput(`\`limit\` must be between 1 and ${MAX_LIMIT}`, { field: 'limit' });
    }
    const window = args.volatilityWindowMinutes ?? 60;
    if (!Number.isInteger(window) || window < 2 || window > MAX_WINDOW_MINUTES) {
      throw badInput(`\`volatilityWindowMinutes\` must be between 2 and ${MAX_WINDOW_MINUTES}`, {
        field: 'volatilityWindowMinutes',
      });
    }
    const assetClass = args.assetClass ?? null;
    if (assetClass !== null && !(ASSET_CLASSES as readonly string[]).includes(assetClass)) {
      throw badInput(`\`assetClass\` must be one of ${ASSET_CLASSES.join(', ')}`, { field: 'assetClass' });
    }
    const keep = (symbol: string): boolean => {
      const inst = this.catalog.get(symbol);
      return inst !== undefined && (assetClass === null || inst.assetClass === (assetClass as AssetClass));
    };
    const now = this.now();
    const [moverRows, deviations] = await Promise.all([
      this.bars.movers(new Date(now - 24 * 3_600_000)),
      this.bars.minuteReturnDeviation(new Date(now - window * 60_000)),
    ]);
    const movers = moverRows
      .filter((r) => keep(r.symbol))
      .map((r) => {
        const open = new Dec(r.open);
        const change = new Dec(r.last).minus(open);
        return {
          symbol: r.symbol,
          open: r.open,
          last: r.last,
          change: change.toFixed(),
          changePercent: open.isZero() ? '0' : change.div(open).times(100).toDecimalPlaces(4).toFixed(),
          volume: r.volume,
          notional: r.notional,
          pct: open.isZero() ? new Dec(0) : change.div(open),
        };
      });
    const strip = ({ pct: _pct, ...m }: MoverModel & { pct: Dec }): MoverModel => m;
    const byPct = [...movers].sort((a, b) => b.pct.comparedTo(a.pct) || a.symbol.localeCompare(b.symbol));
    const annualize = new Dec(MINUTES_PER_YEAR).sqrt();
    const volatile = deviations
      .filter((d) => keep(d.symbol))
      .map((d) => ({ ...d, v: new Dec(d.deviation).times(annualize) }))
      .sort((a, b) => b.v.comparedTo(a.v) || a.symbol.localeCompare(b.symbol));
    return {
      asOf: new Date(now),
      gainers: byPct
        .filter((m) => m.pct.gt(0))
        .slice(0, limit)
        .map(strip),
      losers: byPct
        .filter((m) => m.pct.lt(0))
        .reverse()
        .slice(0, limit)
        .map(strip),
      mostActive: [...movers]
        .sort((a, b) => new Dec(b.notional).comparedTo(a.notional) || a.symbol.localeCompare(b.symbol))
        .slice(0, limit)
        .map(strip),
      mostVolatile: volatile.slice(0, limit).map((d) => ({
        symbol: d.symbol,
        volatility: d.v.toDecimalPlaces(6).toFixed(),
        samples: d.samples,
      })),
    };
  }
}
