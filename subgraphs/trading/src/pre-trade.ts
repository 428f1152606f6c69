/**
 * What an order meets on arrival, shared by placement, replace and the dry run: the instrument and
 * quote it is checked against (read before the account's transaction), the risk decision over the
 * account's session, and immediate execution against the quote when it is marketable. Marks of the
 * account's positions are read only when a check needs them or a trading day starts.
 */
import type { AccountSession } from './account-session.js';
import { Dec } from './decimal.js';
import type { OrderRow } from './db/tenant-schema.js';
import { freshQuote } from './execution/matching.js';
import { applyTick } from './execution/order-matcher.js';
import type { InstrumentCatalog, InstrumentInfo } from './market/instrument.catalog.js';
import type { MarketTick } from './market/market-tick.js';
import type { QuoteBook } from './market/quote.book.js';
import {
  dayOrderExpiry,
  tradingDay,
  type OrderIntent,
  type PricingConfig,
  type TimeInForce,
} from './order.types.js';
import { evaluateRisk, type RiskDecision } from './risk.rules.js';

/** The instrument and latest quote of an order's symbol. */
export interface Prepared {
  instrument: InstrumentInfo | undefined;
  quote: MarketTick | null;
}

/** How an order is checked besides the session's state. */
export interface DecideOptions {
  /** Submissions in the current minute, this one included. */
  submissions: number;
  /** An open order the new one takes the place of (its reservation is not counted). */
  exclude?: OrderRow;
  /** Open quantities of the symbol to check against (default: the session's). */
  open?: { buy: Dec; sell: Dec };
}

export class PreTrade {
  constructor(
    private readonly catalog: InstrumentCatalog,
    private readonly quotes: QuoteBook,
    private readonly pricing: PricingConfig,
  ) {}

  /** The instrument and quote of `symbol` (read outside the account's transaction). */
  async prepare(symbol: string): Promise<Prepared> {
    const [instrument, quote] = await Promise.all([this.catalog.lookup(symbol), this.quotes.get(symbol)]);
    return { instrument, quote };
  }

  /** Gathers what the checks need and runs them (starting the trading day's baseline when due). */
  async decide(
    session: AccountSession,
    intent: OrderIntent,
    prepared: Prepared,
    now: number,
    opts: DecideOptions,
  ): Promise<RiskDecision> {
    const limits = session.limits;
    const marks = await this.marksFor(
      session,
      limits.maxGrossExposure !== null || limits.dailyLossLimit !== null,
      now,
    );
    if (marks) session.rollDay(marks);
    const position = session.position(intent.symbol);
    const open = opts.open ?? session.openQuantities(intent.symbol);
    return evaluateRisk(intent, {
      instrument: prepared.instrument,
      accountCurrency: session.currency,
      quote: prepared.quote,
      now,
      tradingState: session.tradingState,
      cash: session.cashBalance,
      reserved: session.reservedCash.sub(opts.exclude?.reservedAmount ?? 0),
      shortMargin: session.shortMargin(),
      limits,
      position: { quantity: position.quantity, averagePrice: position.averagePrice },
      openBuy: open.buy,
      openSell: open.sell,
      grossExposure: marks ? session.grossExposure(marks) : new Dec(0),
      ordersThisMinute: opts.submissions,
      pricing: this.pricing,
    });
  }

  /** Trades an accepted order against the current quote (market, marketable limit, IOC/FOK). */
  executeNow(session: AccountSession, order: OrderRow, prepared: Prepared, now: number): void {
    const quote = freshQuote(prepared.quote, now, this.pricing.maxQuoteAgeMs);
    const steps = {
      tickSize: new Dec(prepared.instrument?.tickSize ?? 0),
      lotSize: new Dec(prepared.instrument?.lotSize ?? 0),
    };
    applyTick(session, order, quote, steps, this.pricing, now);
  }

  /** When an order placed now expires (DAY orders), or null. */
  expiryOf(tif: TimeInForce, now: number): Date | null {
    return tif === 'DAY' ? dayOrderExpiry(now, this.pricing.dayEndMinuteUtc) : null;
  }

  /**
   * Marks of the account's positions, when a check needs them (exposure or loss limits) or the trading
   * day's baseline has not been taken yet; null otherwise (saves a Redis round trip per order).
   */
  private async marksFor(
    session: AccountSession,
    needed: boolean,
    now: number,
  ): Promise<Map<string, Dec> | null> {
    const newDay = session.dayStartDate !== tradingDay(now, this.pricing.dayEndMinuteUtc);
    if (!needed && !newDay) return null;
    return marksOf(this.quotes, session.heldSymbols());
  }
}

/** The last prices of `symbols` that have a quote. */
export async function marksOf(quotes: QuoteBook, symbols: readonly string[]): Promise<Map<string, Dec>> {
  const found = await quotes.getMany(symbols);
  const marks = new Map<string, Dec>();
  for (const [s, q] of found) marks.set(s, new Dec(q.price));
  return marks;
}
