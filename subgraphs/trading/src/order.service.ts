/**
 * Order lifecycle rules: validation, idempotent placement, pre-trade checks, immediate execution of
 * marketable orders, cancel, cancel-all, replace and the dry run (previewOrder).
 *
 * Every change of one account runs in one withTenant transaction that first locks the account row, so
 * concurrent submits, cancels and fills of an account happen one after the other: buying power read by
 * a check is still true when its reservation is written. A submit whose clientOrderId already exists in
 * the account returns that order (checked under the same lock, with the unique index behind it).
 */
import type { TenantScope } from '../../../lib/db.js';
import { AppError, badInput, conflict, notFound, rateLimited } from '../../../lib/errors.js';
import type { Logger } from '../../../lib/logger.js';
import { AccountQueue, AccountQueueFullError, type Settled } from './account-queue.js';
import { openSession, sessionOf, type AccountSession, type TxEffects } from './account-session.js';
import { Dec, str } from './decimal.js';
import type { OrderRow } from './db/tenant-schema.js';
import type { EffectsSink } from './execution/engine.js';
import { applyTick } from './execution/order-matcher.js';
import type { InstrumentCatalog, InstrumentInfo } from './market/instrument.catalog.js';
import type { MarketTick } from './market/market-tick.js';
import type { QuoteBook } from './market/quote.book.js';
import type { OrderPreviewModel } from './models.js';
import {
  dayOrderExpiry,
  isOpen,
  tradingDay,
  type OrderIntent,
  type OrderType,
  type PricingConfig,
  type Side,
  type TimeInForce,
} from './order.types.js';
import type { OrderBookRegistry } from './order-book.registry.js';
import { DEFAULT_LIMITS, evaluateRisk, freshQuote, type RiskDecision } from './risk.rules.js';
import { inTenant, inTenantRoundTrips, isRetryable, type Caller, type TenantDb } from './tenant-scope.js';
import type { TradingMetrics } from './trading.metrics.js';
import {
  asDuplicateOrder,
  DuplicateOrderError,
  flushStatement,
  openStatement,
  parseOpened,
  type SessionChanges,
  type SessionData,
  type SessionStore,
} from './session.store.js';
import type { TradingRepository } from './trading.repository.js';

/** Raw input of placeOrder / previewOrder (GraphQL's PlaceOrderInput). */
export interface PlaceOrderInput {
  accountId: string;
  clientOrderId: string;
  symbol: string;
  side: Side;
  type: OrderType;
  quantity: string;
  limitPrice?: string | null | undefined;
  stopPrice?: string | null | undefined;
  timeInForce?: TimeInForce | null | undefined;
}

export interface ReplaceOrderInput {
  clientOrderId: string;
  quantity?: string | null | undefined;
  limitPrice?: string | null | undefined;
  stopPrice?: string | null | undefined;
  timeInForce?: TimeInForce | null | undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CLIENT_ORDER_ID = /^[A-Za-z0-9._:-]{1,64}$/;
const SYMBOL = /^[A-Za-z0-9._/-]{1,32}$/;
/** Largest quantity or price accepted (numeric(28, 10) holds 18 integer digits). */
const MAX_VALUE = new Dec('1e15');

/** A well-formed id, or BAD_USER_INPUT naming the field. */
export function requireId(value: string, field: string): string {
  if (!UUID.test(value)) throw badInput(`${field} must be a UUID`, { field });
  return value.toLowerCase();
}

function positiveDecimal(value: string, field: string): Dec {
  const d = new Dec(value);
  if (!d.isFinite() || d.lte(0)) throw badInput(`${field} must be positive`, { field });
  if (d.gt(MAX_VALUE)) throw badInput(`${field} is too large`, { field });
  if (d.decimalPlaces() > 10) throw badInput(`${field} has more than 10 decimals`, { field });
  return d;
}

/**
 * Checks the shape of an order (not the risk rules: those reject with a stored reason).
 * @throws AppError BAD_USER_INPUT for missing or contradictory fields
 */
export function validateOrder(input: PlaceOrderInput): OrderIntent {
  const accountId = requireId(input.accountId, 'accountId');
  if (!CLIENT_ORDER_ID.test(input.clientOrderId)) {
    throw badInput('clientOrderId must be 1-64 characters of A-Z a-z 0-9 . _ : -', {
      field: 'clientOrderId',
    });
  }
  if (!SYMBOL.test(input.symbol)) throw badInput('Malformed symbol', { field: 'symbol' });
  const timeInForce = input.timeInForce ?? 'DAY';
  const needsLimit = input.type === 'LIMIT' || input.type === 'STOP_LIMIT';
  const needsStop = input.type === 'STOP' || input.type === 'STOP_LIMIT';
  if (needsLimit && !input.limitPrice)
    throw badInput(`${input.type} orders need a limitPrice`, { field: 'limitPrice' });
  if (!needsLimit && input.limitPrice) {
    throw badInput(`${input.type} orders take no limitPrice`, { field: 'limitPrice' });
  }
  if (needsStop && !input.stopPrice)
    throw badInput(`${input.type} orders need a stopPrice`, { field: 'stopPrice' });
  if (!needsStop && input.stopPrice)
    throw badInput(`${input.type} orders take no stopPrice`, { field: 'stopPrice' });
  if (needsStop && (timeInForce === 'IOC' || timeInForce === 'FOK')) {
    throw badInput('Stop orders are DAY or GTC', { field: 'timeInForce' });
  }
  return {
    accountId,
    clientOrderId: input.clientOrderId,
    symbol: input.symbol,
    side: input.side,
    type: input.type,
    timeInForce,
    quantity: positiveDecimal(input.quantity, 'quantity'),
    limitPrice: input.limitPrice ? positiveDecimal(input.limitPrice, 'limitPrice') : null,
    stopPrice: input.stopPrice ? positiveDecimal(input.stopPrice, 'stopPrice') : null,
  };
}

/** True when an existing order was placed with the same parameters as `intent`. */
function sameOrder(o: OrderRow, intent: OrderIntent): boolean {
  const eq = (a: string | null, b: Dec | null): boolean => (a === null ? b === null : b !== null && b.eq(a));
  return (
    o.symbol === intent.symbol &&
    o.side === intent.side &&
    o.type === intent.type &&
    o.timeInForce === intent.timeInForce &&
    new Dec(o.quantity).eq(intent.quantity) &&
    eq(o.limitPrice, intent.limitPrice) &&
    eq(o.stopPrice, intent.stopPrice)
  );
}

export interface OrderServiceDeps {
  /** Tenant transactions (pool and per-tenant share). */
  pool: TenantDb;
  catalog: InstrumentCatalog;
  quotes: QuoteBook;
  registry: OrderBookRegistry;
  pricing: PricingConfig;
  metrics: TradingMetrics;
  logger: Logger;
  sink: EffectsSink;
  now: () => number;
  /** Placement transactions at once, over all accounts (TRADING_PLACEMENT_CONCURRENCY). */
  placementConcurrency: number;
  /** Submissions that may wait per account queue (TRADING_ACCOUNT_QUEUE_MAX). */
  accountQueueMax: number;
}

interface Prepared {
  instrument: InstrumentInfo | undefined;
  quote: MarketTick | null;
}

/** A validated submission waiting for its account's transaction. */
interface Submission {
  scope: TenantScope;
  intent: OrderIntent;
  prepared: Prepared;
}

/** What a placement transaction did: each submission's order (or error), and the effects to publish. */
interface Placed {
  outcomes: Settled<OrderRow>[];
  effects: TxEffects | null;
  /** Ids of the orders the transaction created (the others were placed before: duplicates). */
  created: ReadonlySet<string>;
}

export class OrderService {
  /** Submissions per (tenant, user, account), group-committed (see {@link AccountQueue}). */
  private readonly placements: AccountQueue<Submission, OrderRow>;

  constructor(private readonly deps: OrderServiceDeps) {
    this.placements = new AccountQueue((_key, batch) => this.placeBatch(batch), {
      maxRunning: deps.placementConcurrency,
      maxWaiting: deps.accountQueueMax,
    });
  }

  /** Submissions waiting for or in a placement transaction, over all accounts of this replica. */
  get queuedPlacements(): number {
    return this.placements.depth;
  }

  /**
   * Places an order. A risk rejection is a REJECTED order (stored, with its reason), not an error.
   * @throws AppError BAD_USER_INPUT (malformed), NOT_FOUND (account), CONFLICT (clientOrderId reused
   *   with different parameters), RATE_LIMITED (the account's queue is full; nothing was stored)
   */
  async place(caller: Caller, input: PlaceOrderInput): Promise<OrderRow> {
    const intent = validateOrder(input);
    const end = this.deps.metrics.placementDuration.startTimer({ type: intent.type });
    await this.deps.registry.ensure(caller.scope);
    const prepared = await this.prepare(intent.symbol);
    const { tenantId, userId } = caller.scope;
    const order = await this.placements
      .submit(
        `${tenantId}/${userId}/${intent.accountId}`,
        { scope: caller.scope, intent, prepared },
        tenantId,
      )
      .catch((err: unknown) => {
        if (!(err instanceof AccountQueueFullError)) throw err;
        this.deps.metrics.limitRefusals.inc({ limit: 'account_queue' });
        // A batch takes at most a statement timeout; in practice the queue moves far sooner.
        throw rateLimited(
          1,
          `Too many orders waiting for this account: at most ${err.limit} may queue per account (TRADING_ACCOUNT_QUEUE_MAX)`,
          { limit: 'account_queue', max: err.limit },
        );
      });
    end();
    return order;
  }

  /** Runs an order through validation and every check without placing it (nothing is written). */
  async preview(caller: Caller, input: PlaceOrderInput): Promise<OrderPreviewModel> {
    const intent = validateOrder(input);
    const prepared = await this.prepare(intent.symbol);
    return inTenant(this.deps.pool, caller.scope, async (_repo, store) => {
      const now = this.deps.now();
      const opened = await openSession(store, intent.accountId, this.deps.pricing, now, {
        lock: false,
        defaults: DEFAULT_LIMITS,
      });
      if (!opened) throw notFound('Account');
      const { session } = opened;
      const decision = await this.decide(session, intent, prepared, now, {
        submissions: session.submissionsThisMinute() + 1,
      });
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
    });
  }

  /**
   * Cancels an open order.
   * @throws AppError NOT_FOUND, CONFLICT when the order is no longer open
   */
  async cancel(caller: Caller, orderId: string): Promise<OrderRow> {
    const id = requireId(orderId, 'id');
    const { order, effects } = await inTenant(this.deps.pool, caller.scope, async (repo, store) => {
      const found = await repo.getOrder(id);
      if (!found) throw notFound('Order');
      const { session, orders } = await this.lockSession(store, found.accountId, { orderIds: [id] });
      const row = orders[0];
      if (!row) throw notFound('Order');
      if (!isOpen(row.status)) throw conflict(`Order is ${row.status} and cannot be canceled`);
      session.close(row, 'CANCELED', 'CANCELED', 'CANCELED_BY_USER');
      const fx = await session.flush(store);
      return { order: fx.orders.find((o) => o.id === id) ?? row, effects: fx };
    });
    await this.deps.sink(caller.scope, effects);
    return order;
  }

  /** Cancels every open order of an account (of one symbol when given). */
  async cancelAll(caller: Caller, accountId: string, symbol?: string | null): Promise<OrderRow[]> {
    const id = requireId(accountId, 'accountId');
    const { orders, effects } = await inTenant(this.deps.pool, caller.scope, async (_repo, store) => {
      const { session } = await this.lockSession(store, id);
      const rows = (await store.lockOpenOrders(id, symbol ?? undefined)).map((r) => session.adopt(r));
      for (const row of rows) session.close(row, 'CANCELED', 'CANCELED', 'CANCELED_BY_USER');
      if (rows.length === 0) return { orders: [] as OrderRow[], effects: null };
      const fx = await session.flush(store);
      return { orders: fx.orders, effects: fx };
    });
    if (effects) await this.deps.sink(caller.scope, effects);
    return orders;
  }

  /**
   * Replaces an open LIMIT, STOP or STOP_LIMIT order: cancels it and places a new order with the
   * changes, atomically. When the new order fails a check it is stored REJECTED and the original stays.
   * @throws AppError NOT_FOUND, CONFLICT (not open; clientOrderId used by another order), BAD_USER_INPUT
   */
  async replace(caller: Caller, orderId: string, input: ReplaceOrderInput): Promise<OrderRow> {
    const id = requireId(orderId, 'id');
    await this.deps.registry.ensure(caller.scope);
    const { order, effects } = await inTenant(this.deps.pool, caller.scope, async (repo, store) => {
      const found = await repo.getOrder(id);
      if (!found) throw notFound('Order');
      const { session, data, orders } = await this.lockSession(store, found.accountId, {
        clientOrderIds: [input.clientOrderId],
        orderIds: [id],
      });
      const existingId = data.existing.get(input.clientOrderId);
      if (existingId) {
        const existing = await repo.getOrder(existingId);
        if (existing?.replacesOrderId === id) return { order: existing, effects: null };
        throw conflict('clientOrderId is already used by another order');
      }
      const original = orders[0];
      if (!original) throw notFound('Order');
      if (!isOpen(original.status)) throw conflict(`Order is ${original.status} and cannot be replaced`);
      if (original.type === 'MARKET') throw badInput('Market orders cannot be replaced', { field: 'id' });
      const remaining = new Dec(original.quantity).sub(original.filledQuantity);
      const intent = validateOrder({
        accountId: original.accountId,
        clientOrderId: input.clientOrderId,
        symbol: original.symbol,
        side: original.side,
        type: original.type,
        quantity: input.quantity ?? str(remaining),
        limitPrice: input.limitPrice ?? original.limitPrice,
        stopPrice: input.stopPrice ?? original.stopPrice,
        timeInForce: input.timeInForce ?? original.timeInForce,
      });
      const prepared = await this.prepare(intent.symbol);
      const now = this.deps.now();
      // The original's remaining quantity is still open until the replacement is accepted.
      const open = session.openQuantities(intent.symbol);
      const decision = await this.decide(session, intent, prepared, now, {
        submissions: session.countSubmission(),
        exclude: original,
        open:
          intent.side === 'BUY'
            ? { buy: open.buy.sub(remaining), sell: open.sell }
            : { buy: open.buy, sell: open.sell.sub(remaining) },
      });
      const created = session.createOrder(intent, decision, {
        expiresAt: this.expiryOf(intent.timeInForce, now),
        replacesOrderId: id,
      });
      if (decision.rejection === null) {
        session.markReplaced(original, created.id);
        this.executeNow(session, created, prepared, now);
      }
      const fx = await session.flush(store);
      return { order: fx.orders.find((o) => o.id === created.id) ?? created, effects: fx };
    });
    if (effects) await this.deps.sink(caller.scope, effects);
    return order;
  }

  /**
   * Places a batch of one account's submissions in one transaction (see {@link AccountQueue}); a
   * failure of the shared transaction that is not the account's own (not found, not provisioned) is
   * retried one submission per transaction, so one bad order never fails the others.
   */
  private async placeBatch(batch: Submission[]): Promise<Settled<OrderRow>[]> {
    const first = batch[0] as Submission;
    let placed: Placed;
    try {
      placed = await this.withRetry(first.scope, batch);
    } catch (err) {
      if (batch.length === 1 || err instanceof AppError) throw err;
      this.deps.logger.warn({ err, orders: batch.length }, 'batched placement failed; placing one by one');
      const outcomes: Settled<OrderRow>[] = [];
      for (const one of batch) {
        outcomes.push(
          await this.placeBatch([one]).then(
            (o) => o[0] as Settled<OrderRow>,
            (error: unknown) => ({ ok: false as const, error }),
          ),
        );
      }
      return outcomes;
    }
    const { outcomes, effects, created } = placed;
    const metrics = this.deps.metrics;
    metrics.placementBatch.observe(batch.length);
    for (const o of outcomes) {
      if (!o.ok) continue;
      if (!created.has(o.value.id)) metrics.ordersPlaced.inc({ result: 'duplicate' });
      else if (o.value.status !== 'REJECTED') metrics.ordersPlaced.inc({ result: 'accepted' });
      else {
        metrics.ordersPlaced.inc({ result: 'rejected' });
        metrics.orderRejections.inc({ reason: o.value.rejectReason ?? 'UNKNOWN' });
      }
    }
    if (effects) {
      this.deps.metrics.fills.inc({ source: 'placement' }, effects.trades.length);
      await this.deps.sink(first.scope, effects);
    }
    return outcomes;
  }

  /**
   * Places a batch in one transaction of two round trips: the account's session opens with the
   * transaction's prologue, and everything the batch changed is written with the COMMIT.
   */
  private placeIn(scope: TenantScope, batch: readonly Submission[]): Promise<Placed> {
    const now = this.deps.now();
    const accountId = (batch[0] as Submission).intent.accountId;
    const first = openStatement(accountId, {
      lock: true,
      clientOrderIds: [...new Set(batch.map((b) => b.intent.clientOrderId))],
    });
    return inTenantRoundTrips(this.deps.pool, scope, first, async (rows, repo) => {
      const read = parseOpened(accountId, rows[0]);
      if (!read) throw notFound('Account');
      const { session, data } = sessionOf(read, this.deps.pricing, now, DEFAULT_LIMITS);
      const { placed, changes } = await this.placeAll(session, data, repo, batch, now);
      return { value: placed, last: changes && flushStatement(changes) };
    });
  }

  /** The batch's orders, one after the other, in the session (nothing is written here). */
  private async placeAll(
    session: AccountSession,
    data: SessionData,
    repo: TradingRepository,
    batch: readonly Submission[],
    now: number,
  ): Promise<{ placed: Placed; changes: SessionChanges | null }> {
    const placedHere = new Map<string, OrderRow>();
    const results: (OrderRow | { error: unknown } | { placedBefore: OrderRow })[] = [];
    for (const { intent, prepared } of batch) {
      const before =
        placedHere.get(intent.clientOrderId) ??
        (data.existing.has(intent.clientOrderId)
          ? await repo.getOrder(data.existing.get(intent.clientOrderId) as string)
          : undefined);
      if (before) {
        results.push(
          sameOrder(before, intent)
            ? { placedBefore: before }
            : { error: conflict('clientOrderId was already used for an order with different parameters') },
        );
        continue;
      }
      // The session's open quantities include the orders of this batch that rest.
      const decision = await this.decide(session, intent, prepared, now, {
        submissions: session.countSubmission(),
      });
      const order = session.createOrder(intent, decision, {
        expiresAt: this.expiryOf(intent.timeInForce, now),
      });
      if (decision.rejection === null) this.executeNow(session, order, prepared, now);
      placedHere.set(intent.clientOrderId, order);
      results.push(order);
    }
    const collected = placedHere.size > 0 ? session.collect() : null;
    const effects = collected?.effects ?? null;
    const final = new Map((effects?.orders ?? []).map((o) => [o.id, o]));
    const outcomes = results.map((r): Settled<OrderRow> => {
      if ('error' in r) return { ok: false, error: r.error };
      const row = 'placedBefore' in r ? r.placedBefore : r;
      return { ok: true, value: final.get(row.id) ?? row };
    });
    const created = new Set([...placedHere.values()].map((o) => o.id));
    return { placed: { outcomes, effects, created }, changes: collected?.changes ?? null };
  }

  /** Gathers what the checks need and runs them. */
  private async decide(
    session: AccountSession,
    intent: OrderIntent,
    prepared: Prepared,
    now: number,
    opts: {
      submissions: number;
      exclude?: OrderRow;
      /** Open quantities of the symbol to check against (default: the session's). */
      open?: { buy: Dec; sell: Dec };
    },
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
      pricing: this.deps.pricing,
    });
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
    const newDay = session.dayStartDate !== tradingDay(now, this.deps.pricing.dayEndMinuteUtc);
    if (!needed && !newDay) return null;
    const quotes = await this.deps.quotes.getMany(session.heldSymbols());
    const marks = new Map<string, Dec>();
    for (const [s, q] of quotes) marks.set(s, new Dec(q.price));
    return marks;
  }

  /** Trades an accepted order against the current quote (market, marketable limit, IOC/FOK). */
  private executeNow(session: AccountSession, order: OrderRow, prepared: Prepared, now: number): void {
    const quote = freshQuote(prepared.quote, now, this.deps.pricing.maxQuoteAgeMs);
    const steps = {
      tickSize: new Dec(prepared.instrument?.tickSize ?? 0),
      lotSize: new Dec(prepared.instrument?.lotSize ?? 0),
    };
    applyTick(session, order, quote, steps, this.deps.pricing, now);
  }

  private expiryOf(tif: TimeInForce, now: number): Date | null {
    return tif === 'DAY' ? dayOrderExpiry(now, this.deps.pricing.dayEndMinuteUtc) : null;
  }

  private async prepare(symbol: string): Promise<Prepared> {
    const [instrument, quote] = await Promise.all([
      this.deps.catalog.lookup(symbol),
      this.deps.quotes.get(symbol),
    ]);
    return { instrument, quote };
  }

  private async lockSession(
    store: SessionStore,
    accountId: string,
    opts: {
      clientOrderIds?: string[];
      orderIds?: string[];
    } = {},
  ): Promise<{ session: AccountSession; data: SessionData; orders: OrderRow[] }> {
    const opened = await openSession(store, accountId, this.deps.pricing, this.deps.now(), {
      lock: true,
      defaults: DEFAULT_LIMITS,
      ...opts,
    });
    if (!opened) throw notFound('Account');
    return opened;
  }

  /**
   * Runs a placement transaction; a deadlock or serialization failure is retried, and a duplicate
   * clientOrderId found only at insert (never expected under the account lock) answers a lone
   * submission with the stored order.
   */
  private async withRetry(scope: TenantScope, batch: readonly Submission[]): Promise<Placed> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.placeIn(scope, batch);
      } catch (caught) {
        const err = asDuplicateOrder(caught);
        const one = batch.length === 1 ? (batch[0] as Submission).intent : null;
        if (err instanceof DuplicateOrderError && one) {
          const existing = await inTenant(this.deps.pool, scope, (repo) =>
            repo.findOrderByClientId(one.accountId, one.clientOrderId),
          );
          if (existing)
            return { outcomes: [{ ok: true, value: existing }], effects: null, created: new Set() };
        }
        if (!isRetryable(err) || attempt >= 3) throw err;
        this.deps.logger.warn({ err, attempt }, 'order transaction retried');
      }
    }
  }
}
