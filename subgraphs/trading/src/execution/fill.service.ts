/**
 * The engine's side of the order path: applies a tick (or the clock, for DAY expiry) to resting orders
 * of one account in that account's session (session.store.ts), like a placement: account row locked,
 * orders locked and re-read, fills with their executions, ledger rows, positions and order events
 * written together with the COMMIT.
 */
import type { TenantScope } from '../../../../lib/db.js';
import { Dec } from '../decimal.js';
import type { OrderRow } from '../db/tenant-schema.js';
import type { InstrumentCatalog } from '../market/instrument.catalog.js';
import type { MarketTick } from '../market/market-tick.js';
import type { QuoteBook } from '../market/quote.book.js';
import { isOpen, type PricingConfig } from '../order.types.js';
import { marksOf } from '../pre-trade.js';
import type { TxEffects } from '../session-changes.js';
import type { SessionStore } from '../session.store.js';
import { applyTick, isExpired } from './order-matcher.js';

export interface RestingOutcome {
  effects: TxEffects | null;
  /** Orders still open afterwards (to keep in the index). */
  open: OrderRow[];
}

export class FillService {
  constructor(
    private readonly store: SessionStore,
    private readonly catalog: InstrumentCatalog,
    private readonly quotes: QuoteBook,
    private readonly pricing: PricingConfig,
  ) {}

  /**
   * Runs `tick` against resting orders of one account (null tick: only expires due DAY orders).
   * Orders that are no longer open are skipped.
   */
  async processResting(
    scope: TenantScope,
    accountId: string,
    orderIds: readonly string[],
    tick: MarketTick | null,
    now: number,
  ): Promise<RestingOutcome> {
    const request = { account: { id: accountId }, lock: true, orderIds, now };
    const done = await this.store.withSession(scope, request, async (session) => {
      for (const order of session.requested) {
        if (!isOpen(order.status)) continue;
        if (tick === null) {
          if (isExpired(order, now)) session.close(order, 'EXPIRED', 'EXPIRED', 'DAY_ORDER_EXPIRED');
          continue;
        }
        const instrument = this.catalog.get(order.symbol);
        const steps = {
          tickSize: new Dec(instrument?.tickSize ?? 0),
          lotSize: new Dec(instrument?.lotSize ?? 0),
        };
        applyTick(session, order, tick, steps, this.pricing, now);
      }
      if (session.changed && session.limits.dailyLossLimit) {
        const marks = await marksOf(this.quotes, session.heldSymbols());
        if (tick) marks.set(tick.symbol, new Dec(tick.price));
        session.rollDay(marks);
      }
      return session.requested.filter((o) => isOpen(o.status));
    });
    return done ? { effects: done.effects, open: done.value } : { effects: null, open: [] };
  }
}
