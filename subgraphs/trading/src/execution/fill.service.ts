/**
 * The engine's side of the database: applies a tick (or the clock, for DAY expiry) to resting orders
 * of one account in one withTenant transaction — account row locked, orders locked and re-read, fills
 * with their executions, ledger rows, positions and order events committed together.
 */
import type { TenantScope } from '../../../../lib/db.js';
import { openSession, type TxEffects } from '../account-session.js';
import { Dec } from '../decimal.js';
import type { OrderRow } from '../db/tenant-schema.js';
import type { InstrumentCatalog } from '../market/instrument.catalog.js';
import type { MarketTick } from '../market/market-tick.js';
import type { QuoteBook } from '../market/quote.book.js';
import { isOpen, type PricingConfig } from '../order.types.js';
import { DEFAULT_LIMITS } from '../risk.rules.js';
import { inTenant, type TenantDb } from '../tenant-scope.js';
import { applyTick, isExpired } from './order-matcher.js';

export interface RestingOutcome {
  effects: TxEffects | null;
  /** Orders still open afterwards (to keep in the index). */
  open: OrderRow[];
}

export class FillService {
  constructor(
    private readonly pool: TenantDb,
    private readonly catalog: InstrumentCatalog,
    private readonly quotes: QuoteBook,
    private readonly pricing: PricingConfig,
  ) {}

  /**
   * Runs `tick` against resting orders of one account (null tick: only expires due DAY orders).
   * Orders that are no longer open are skipped.
   */
  processResting(
    scope: TenantScope,
    accountId: string,
    orderIds: readonly string[],
    tick: MarketTick | null,
    now: number,
  ): Promise<RestingOutcome> {
    return inTenant(this.pool, scope, async (_repo, store) => {
      const opened = await openSession(store, accountId, this.pricing, now, {
        lock: true,
        defaults: DEFAULT_LIMITS,
        orderIds,
      });
      if (!opened) return { effects: null, open: [] };
      const { session, orders: rows } = opened;
      let changed = false;
      for (const order of rows) {
        if (!isOpen(order.status)) continue;
        const before = `${order.status}/${order.filledQuantity}/${order.triggered}`;
        if (tick === null) {
          if (isExpired(order, now)) session.close(order, 'EXPIRED', 'EXPIRED', 'DAY_ORDER_EXPIRED');
        } else {
          const instrument = this.catalog.get(order.symbol);
          const steps = {
            tickSize: new Dec(instrument?.tickSize ?? 0),
            lotSize: new Dec(instrument?.lotSize ?? 0),
          };
          applyTick(session, order, tick, steps, this.pricing, now);
        }
        if (`${order.status}/${order.filledQuantity}/${order.triggered}` !== before) changed = true;
      }
      if (changed && session.limits.dailyLossLimit) {
        const held = session.heldSymbols();
        const quotes = await this.quotes.getMany(held);
        const marks = new Map<string, Dec>();
        for (const [s, q] of quotes) marks.set(s, new Dec(q.price));
        if (tick) marks.set(tick.symbol, new Dec(tick.price));
        session.rollDay(marks);
      }
      const effects = changed ? await session.flush(store) : null;
      return { effects, open: rows.filter((o) => isOpen(o.status)) };
    });
  }
}
