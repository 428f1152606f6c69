import { Decimal } from 'decimal.js';
import { badInput } from '../../../lib/errors.js';
import type { Logger } from '../../../lib/logger.js';
import type { AssetClass } from './db/schema.js';
import type { InstrumentRepository } from './instrument.repository.js';

/** An instrument as the domain sees it; decimals are strings (exact), as stored. */
export interface InstrumentModel {
  symbol: string;
  name: string;
  assetClass: AssetClass;
  currency: string;
  tickSize: string;
  lotSize: string;
  tradable: boolean;
  basePrice: string;
  /** Annualized drift and volatility of the simulator. */
  drift: string;
  volatility: string;
  spreadBps: string;
  /** Decimal places of the tick size: prices are rendered with exactly this many. */
  priceDecimals: number;
}

/** Most symbols one subscription or query may name. */
export const MAX_SYMBOLS = 100;

/**
 * The instrument catalog held in memory: it is small, read on every tick and every request, and
 * changes rarely, so it is loaded at start and refreshed periodically instead of queried each time.
 */
export class InstrumentCatalog {
  private bySymbol = new Map<string, InstrumentModel>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly repo: InstrumentRepository,
    private readonly logger: Logger,
  ) {}

  /** Loads the catalog, then reloads it every `refreshMs` (0: never). */
  async open(refreshMs = 60_000): Promise<void> {
    await this.reload();
    if (refreshMs > 0) {
      this.timer = setInterval(() => {
        this.reload().catch((err: unknown) => this.logger.warn({ err }, 'instrument catalog reload failed'));
      }, refreshMs);
      this.timer.unref();
    }
  }

  async reload(): Promise<void> {
    const rows = await this.repo.list();
    const next = new Map<string, InstrumentModel>();
    for (const r of rows) {
      next.set(r.symbol, {
        symbol: r.symbol,
        name: r.name,
        assetClass: r.assetClass,
        currency: r.currency,
        tickSize: new Decimal(r.tickSize).toFixed(),
        lotSize: new Decimal(r.lotSize).toFixed(),
        tradable: r.tradable,
        basePrice: r.basePrice,
        drift: r.drift,
        volatility: r.volatility,
        spreadBps: r.spreadBps,
        priceDecimals: new Decimal(r.tickSize).decimalPlaces(),
      });
    }
    this.bySymbol = next;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  all(): InstrumentModel[] {
    return [...this.bySymbol.values()];
  }

  get(symbol: string): InstrumentModel | undefined {
    return this.bySymbol.get(symbol);
  }

  /**
   * The instruments of `symbols`, deduplicated, in the given order.
   * @throws AppError BAD_USER_INPUT for an empty list, too many symbols or any unknown symbol
   */
  requireAll(symbols: readonly string[]): InstrumentModel[] {
    const unique = [...new Set(symbols)];
    if (unique.length === 0) throw badInput('At least one symbol is required');
    if (unique.length > MAX_SYMBOLS) throw badInput(`At most ${MAX_SYMBOLS} symbols`, { max: MAX_SYMBOLS });
    const unknown = unique.filter((s) => !this.bySymbol.has(s));
    if (unknown.length > 0) {
      throw badInput(`Unknown symbol${unknown.length > 1 ? 's' : ''}: ${unknown.slice(0, 10).join(', ')}`, {
        field: 'symbols',
        unknown: unknown.slice(0, 10),
      });
    }
    return unique.map((s) => this.bySymbol.get(s) as InstrumentModel);
  }

  /**
   * One instrument.
   * @throws AppError BAD_USER_INPUT for an unknown symbol
   */
  require(symbol: string): InstrumentModel {
    const found = this.bySymbol.get(symbol);
    if (!found) throw badInput(`Unknown symbol: ${symbol.slice(0, 32)}`, { field: 'symbol' });
    return found;
  }
}
