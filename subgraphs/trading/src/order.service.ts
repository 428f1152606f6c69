/**
 * The order lifecycle as the API offers it: place (order-placement.ts), the dry run (previewOrder),
 * cancel, cancel-all and replace. Each runs in one account session (session.store.ts): the account row
 * locked first, so submits, cancels and fills of an account happen one after the other; what the
 * session changed is written with the COMMIT, then handed to the effects sink.
 */
import { conflict, notFound } from '../../../lib/errors.js';
import type { AccountSession } from './account-session.js';
import type { OrderRow } from './db/tenant-schema.js';
import type { InstrumentCatalog } from './market/instrument.catalog.js';
import type { QuoteBook } from './market/quote.book.js';
import type { OrderPreviewModel } from './models.js';
import {
  isOpen,
  remainingOf,
  requireId,
  validateOrder,
  validateReplacement,
  type PlaceOrderInput,
  type PricingConfig,
  type ReplaceOrderInput,
} from './order.types.js';
import { OrderPlacement, type PlacementDeps } from './order-placement.js';
import { PreTrade } from './pre-trade.js';
import type { TxEffects } from './session-changes.js';
import type { SessionRequest } from './session.store.js';
import type { Caller } from './tenant-scope.js';
import type { TradingRepository } from './trading.repository.js';

export interface OrderServiceDeps extends Omit<PlacementDeps, 'preTrade'> {
  catalog: InstrumentCatalog;
  quotes: QuoteBook;
  pricing: PricingConfig;
}

export class OrderService {
  private readonly preTrade: PreTrade;
  private readonly placement: OrderPlacement;

  constructor(private readonly deps: OrderServiceDeps) {
    this.preTrade = new PreTrade(deps.catalog, deps.quotes, deps.pricing);
    this.placement = new OrderPlacement({ ...deps, preTrade: this.preTrade });
  }

  /** Submissions waiting for or in a placement transaction, over all accounts of this replica. */
  get queuedPlacements(): number {
    return this.placement.depth;
  }

  /**
   * Places an order. A risk rejection is a REJECTED order (stored, with its reason), not an error.
   * @throws AppError BAD_USER_INPUT (malformed), NOT_FOUND (account), CONFLICT (clientOrderId reused
   *   with different parameters), RATE_LIMITED (the account's queue is full; nothing was stored)
   */
  place(caller: Caller, input: PlaceOrderInput): Promise<OrderRow> {
    return this.placement.place(caller, input);
  }

  /** Runs an order through validation and every check without placing it (nothing is written). */
  async preview(caller: Caller, input: PlaceOrderInput): Promise<OrderPreviewModel> {
    const intent = validateOrder(input);
    const prepared = await this.preTrade.prepare(intent.symbol);
    const now = this.deps.now();
    const request = { account: { id: intent.accountId }, lock: false, now };
    const { value: decision } = await this.inSession(caller, request, 'Account', (session) =>
      this.preTrade.decide(session, intent, prepared, now, {
        submissions: session.submissionsThisMinute() + 1,
      }),
    );
    return {
      accepted: decision.rejection === null,
      rejectReason: decision.rejection?.reason ?? null,
      message: decision.rejection?.message ?? null,
      estimatedPrice: decision.estimatedPrice,
      estimatedNotional: decision.estimatedNotional,
      estimatedFee: decision.estimatedFee,
      reservation: decision.reservation,
      buyingPower: decision.buyingPower,
      buyingPowerAfter: decision.buyingPower.sub(decision.rejection ? 0 : decision.reservation),
    };
  }

  /**
   * Cancels an open order.
   * @throws AppError NOT_FOUND, CONFLICT when the order is no longer open
   */
  async cancel(caller: Caller, orderId: string): Promise<OrderRow> {
    const id = requireId(orderId, 'id');
    const request = { account: { ofOrder: id }, lock: true, orderIds: [id], now: this.deps.now() };
    const { value: row, effects } = await this.inSession(caller, request, 'Order', (session) => {
      const order = session.requested[0];
      if (!order) throw notFound('Order');
      if (!isOpen(order.status)) throw conflict(`Order is ${order.status} and cannot be canceled`);
      session.close(order, 'CANCELED', 'CANCELED', 'CANCELED_BY_USER');
      return order;
    });
    await this.publish(caller, effects);
    return finalOf(effects, row);
  }

  /** Cancels every open order of an account (of one symbol when given). */
  async cancelAll(caller: Caller, accountId: string, symbol?: string | null): Promise<OrderRow[]> {
    const id = requireId(accountId, 'accountId');
    const request = {
      account: { id },
      lock: true,
      openOrders: { symbol: symbol ?? null },
      now: this.deps.now(),
    };
    const { effects } = await this.inSession(caller, request, 'Account', (session) => {
      for (const row of session.requested) session.close(row, 'CANCELED', 'CANCELED', 'CANCELED_BY_USER');
    });
    await this.publish(caller, effects);
    return effects?.orders ?? [];
  }

  /**
   * Replaces an open LIMIT, STOP or STOP_LIMIT order: cancels it and places a new order with the
   * changes, atomically. When the new order fails a check it is stored REJECTED and the original stays.
   * @throws AppError NOT_FOUND, CONFLICT (not open; clientOrderId used by another order), BAD_USER_INPUT
   */
  async replace(caller: Caller, orderId: string, input: ReplaceOrderInput): Promise<OrderRow> {
    const id = requireId(orderId, 'id');
    await this.deps.registry.ensure(caller.scope);
    const request = {
      account: { ofOrder: id },
      lock: true,
      clientOrderIds: [input.clientOrderId],
      orderIds: [id],
      now: this.deps.now(),
    };
    const { value: row, effects } = await this.inSession(caller, request, 'Order', (session, repo) =>
      this.replaceIn(session, repo, id, input, request.now),
    );
    await this.publish(caller, effects);
    return finalOf(effects, row);
  }

  /** The replacement of order `id` in its account's session (see {@link replace}). */
  private async replaceIn(
    session: AccountSession,
    repo: TradingRepository,
    id: string,
    input: ReplaceOrderInput,
    now: number,
  ): Promise<OrderRow> {
    const existingId = session.existingOrderId(input.clientOrderId);
    if (existingId) {
      const existing = await repo.getOrder(existingId);
      if (existing?.replacesOrderId === id) return existing;
      throw conflict('clientOrderId is already used by another order');
    }
    const original = session.requested[0];
    if (!original) throw notFound('Order');
    if (!isOpen(original.status)) throw conflict(`Order is ${original.status} and cannot be replaced`);
    const intent = validateReplacement(original, input);
    const remaining = remainingOf(original);
    const prepared = await this.preTrade.prepare(intent.symbol);
    // The original's remaining quantity is still open until the replacement is accepted.
    const open = session.openQuantities(intent.symbol);
    const decision = await this.preTrade.decide(session, intent, prepared, now, {
      submissions: session.countSubmission(),
      exclude: original,
      open:
        intent.side === 'BUY'
          ? { buy: open.buy.sub(remaining), sell: open.sell }
          : { buy: open.buy, sell: open.sell.sub(remaining) },
    });
    const created = session.createOrder(intent, decision, {
      expiresAt: this.preTrade.expiryOf(intent.timeInForce, now),
      replacesOrderId: id,
    });
    if (decision.rejection === null) {
      session.markReplaced(original, created.id);
      this.preTrade.executeNow(session, created, prepared, now);
    }
    return created;
  }

  /** Runs `work` in the caller's session of an account; NOT_FOUND names `missing` when there is none. */
  private async inSession<T>(
    caller: Caller,
    request: SessionRequest,
    missing: 'Account' | 'Order',
    work: (session: AccountSession, repo: TradingRepository) => T | Promise<T>,
  ): Promise<{ value: T; effects: TxEffects | null }> {
    const done = await this.deps.store.withSession(caller.scope, request, work);
    if (!done) throw notFound(missing);
    return done;
  }

  private async publish(caller: Caller, effects: TxEffects | null): Promise<void> {
    if (effects) await this.deps.sink(caller.scope, effects);
  }
}

/** An order as committed (from the effects), or as the session left it. */
function finalOf(effects: TxEffects | null, row: OrderRow): OrderRow {
  return effects?.orders.find((o) => o.id === row.id) ?? row;
}
