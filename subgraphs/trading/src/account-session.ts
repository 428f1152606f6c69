/**
 * One account inside one transaction: the account row (locked), its positions and the orders the
 * transaction touches, changed in memory by the order lifecycle (create, trigger, fill, cancel, expire)
 * and written in a handful of statements by {@link AccountSession.flush}. Every change of an order
 * appends an order event; every fill appends an execution and its cash-ledger rows, so that
 *   cash = deposits - withdrawals - net trade value - fees
 * holds exactly, row by row.
 *
 * Invariants kept by every fill (the guard in {@link AccountSession.fill}): cash never goes negative,
 * and buying power (cash - reserved - short margin) never goes negative unless the fill improves it.
 * A fill that would break them does not happen; the caller cancels the order's remainder instead.
 */
import { randomUUID } from 'node:crypto';
import { Dec, dec, fine, money, moneyUp, str, strOrNull } from './decimal.js';
import type {
  AccountRow,
  ExecutionRow,
  OrderEventType,
  OrderRow,
  OrderStatus,
  PositionRow,
} from './db/tenant-schema.js';
import type { MarketTick } from './market/market-tick.js';
import {
  feeFor,
  isOpen,
  tradingDay,
  type CancelReason,
  type OrderIntent,
  type PricingConfig,
} from './order.types.js';
import { applyFill, type PositionState } from './position.math.js';
import type { EffectiveLimits, RiskDecision } from './risk.rules.js';
import type {
  OpenQuantities,
  OpenSessionOptions,
  SessionChanges,
  SessionData,
  SessionStore,
} from './session.store.js';

/** What a committed transaction changed, for subscriptions, the Redis cache and the engine's index. */
export interface TxEffects {
  accountId: string;
  /** Final state of every order created or changed, in the order they were first touched. */
  orders: OrderRow[];
  /** Executions with the state of their order after the transaction. */
  trades: { execution: ExecutionRow; order: OrderRow }[];
  /** Positions the transaction changed. */
  positions: PositionRow[];
  /**
   * Every non-flat position of the account after the transaction (the session reads them all), so the
   * real-time cache can be rewritten whole once its key has expired.
   */
  heldPositions: PositionRow[];
  account: AccountRow;
}

interface TrackedOrder {
  row: OrderRow;
  isNew: boolean;
  dirty: boolean;
}

interface TrackedPosition {
  state: PositionState;
  dirty: boolean;
  /** When it last changed, as read (undefined for one this session created). */
  updatedAt?: Date;
}

/** Remaining quantity of open orders of one symbol, by side (and as read, to write only changes). */
interface TrackedOpen {
  buy: Dec;
  sell: Dec;
  readBuy: Dec;
  readSell: Dec;
}

/** Why a fill was refused by the guard. */
export type FillRefusal = Extract<CancelReason, 'INSUFFICIENT_BUYING_POWER' | 'SHORT_SELLING_NOT_ALLOWED'>;

export class AccountSession {
  private cash: Dec;
  private reserved: Dec;
  private accountDirty = false;
  private readonly orders = new Map<string, TrackedOrder>();
  private readonly positions = new Map<string, TrackedPosition>();
  private readonly open = new Map<string, TrackedOpen>();
  private readonly events: SessionChanges['events'] = [];
  private readonly executions: ExecutionRow[] = [];
  private readonly ledger: SessionChanges['ledger'] = [];

  constructor(
    private account: AccountRow,
    positions: readonly PositionRow[],
    readonly limits: EffectiveLimits,
    private readonly pricing: PricingConfig,
    private readonly now: number,
    open: ReadonlyMap<string, OpenQuantities> = new Map(),
  ) {
    for (const [symbol, q] of open) {
      const [buy, sell] = [new Dec(q.buy), new Dec(q.sell)];
      this.open.set(symbol, { buy, sell, readBuy: buy, readSell: sell });
    }
    this.cash = new Dec(account.cash);
    this.reserved = new Dec(account.reserved);
    for (const p of positions) {
      this.positions.set(p.symbol, {
        state: {
          quantity: new Dec(p.quantity),
          averagePrice: new Dec(p.averagePrice),
          realizedPnl: new Dec(p.realizedPnl),
        },
        dirty: false,
        updatedAt: p.updatedAt,
      });
    }
  }

  get accountId(): string {
    return this.account.id;
  }

  get currency(): string {
    return this.account.currency;
  }

  get tradingState(): AccountRow['tradingState'] {
    return this.account.tradingState;
  }

  /** Trading day of the P&L baseline (null before the first activity). */
  get dayStartDate(): string | null {
    return this.account.dayStartDate;
  }

  get cashBalance(): Dec {
    return this.cash;
  }

  get reservedCash(): Dec {
    return this.reserved;
  }

  /** Cash held against short positions: |quantity| * average price * margin rate. */
  shortMargin(): Dec {
    let total = new Dec(0);
    for (const { state } of this.positions.values()) {
      if (state.quantity.isNegative()) total = total.add(state.quantity.abs().mul(state.averagePrice));
    }
    return moneyUp(total.mul(this.pricing.shortMarginRate));
  }

  buyingPower(): Dec {
    return this.cash.sub(this.reserved).sub(this.shortMargin());
  }

  position(symbol: string): PositionState {
    return (
      this.positions.get(symbol)?.state ?? {
        quantity: new Dec(0),
        averagePrice: new Dec(0),
        realizedPnl: new Dec(0),
      }
    );
  }

  /** Remaining quantity of the account's open orders in `symbol`, by side. */
  openQuantities(symbol: string): { buy: Dec; sell: Dec } {
    const q = this.open.get(symbol);
    return q ? { buy: q.buy, sell: q.sell } : { buy: new Dec(0), sell: new Dec(0) };
  }

  /** Symbols of non-flat positions. */
  heldSymbols(): string[] {
    return [...this.positions].filter(([, p]) => !p.state.quantity.isZero()).map(([s]) => s);
  }

  /** Equity at the given marks (a position without a mark counts at its average price). */
  equity(marks: ReadonlyMap<string, Dec>): Dec {
    let total = this.cash;
    for (const [symbol, { state }] of this.positions) {
      total = total.add(state.quantity.mul(marks.get(symbol) ?? state.averagePrice));
    }
    return total;
  }

  /** Sum of |quantity * mark| over the positions. */
  grossExposure(marks: ReadonlyMap<string, Dec>): Dec {
    let total = new Dec(0);
    for (const [symbol, { state }] of this.positions) {
      total = total.add(state.quantity.mul(marks.get(symbol) ?? state.averagePrice).abs());
    }
    return total;
  }

  /**
   * Starts the trading day's P&L baseline on the first activity of a day, then applies the daily loss
   * limit: a loss of the limit or more moves an ACTIVE account to REDUCING.
   */
  rollDay(marks: ReadonlyMap<string, Dec>): void {
    const day = tradingDay(this.now, this.pricing.dayEndMinuteUtc);
    const equity = this.equity(marks);
    if (this.account.dayStartDate !== day || this.account.dayStartEquity === null) {
      this.account = { ...this.account, dayStartDate: day, dayStartEquity: str(money(equity)) };
      this.accountDirty = true;
    }
    const limit = this.limits.dailyLossLimit;
    if (limit && this.account.tradingState === 'ACTIVE' && this.account.dayStartEquity !== null) {
      const pnl = equity.sub(this.account.dayStartEquity);
      if (pnl.lte(limit.neg())) this.setTradingState('REDUCING', 'DAILY_LOSS_LIMIT');
    }
  }

  setTradingState(state: AccountRow['tradingState'], reason: string | null): void {
    this.account = { ...this.account, tradingState: state, tradingStateReason: reason };
    this.accountDirty = true;
  }

  /** Moves cash in or out (deposit, withdrawal) with its ledger row; the day's baseline moves too. */
  moveCash(kind: 'deposit' | 'withdrawal', amount: Dec, reference: string | null): void {
    const signed = kind === 'deposit' ? amount : amount.neg();
    this.cash = this.cash.add(signed);
    this.ledger.push({ kind, amount: str(signed), reference, createdAt: new Date(this.now) });
    if (
      this.account.dayStartEquity !== null &&
      this.account.dayStartDate === tradingDay(this.now, this.pricing.dayEndMinuteUtc)
    ) {
      this.account = {
        ...this.account,
        dayStartEquity: str(new Dec(this.account.dayStartEquity).add(signed)),
      };
    }
    this.accountDirty = true;
  }

  /**
   * Counts an order submission in the current minute's window.
   * @returns submissions in the window, this one included
   */
  countSubmission(): number {
    const window = Math.floor(this.now / 60_000) * 60_000;
    const start = this.account.rateWindowStart?.getTime();
    const count = start === window ? this.account.rateWindowCount + 1 : 1;
    this.account = { ...this.account, rateWindowStart: new Date(window), rateWindowCount: count };
    this.accountDirty = true;
    return count;
  }

  /** Submissions so far in the current minute (without counting one). */
  submissionsThisMinute(): number {
    const window = Math.floor(this.now / 60_000) * 60_000;
    return this.account.rateWindowStart?.getTime() === window ? this.account.rateWindowCount : 0;
  }

  /** Adds an existing (locked) order to the session. */
  adopt(row: OrderRow): OrderRow {
    const held = this.orders.get(row.id);
    if (held) return held.row;
    const tracked = { row: { ...row }, isNew: false, dirty: false };
    this.orders.set(row.id, tracked);
    return tracked.row;
  }

  /** A new order, NEW (reserving its cash) or REJECTED, with its first event. */
  createOrder(
    intent: OrderIntent,
    decision: RiskDecision,
    opts: { expiresAt: Date | null; replacesOrderId?: string | null },
  ): OrderRow {
    const now = new Date(this.now);
    const rejected = decision.rejection !== null;
    const reservedAmount = rejected ? new Dec(0) : decision.reservation;
    const row: OrderRow = {
      id: randomUUID(),
      accountId: this.account.id,
      clientOrderId: intent.clientOrderId,
      symbol: intent.symbol,
      side: intent.side,
      type: intent.type,
      timeInForce: intent.timeInForce,
      quantity: str(intent.quantity),
      limitPrice: strOrNull(intent.limitPrice),
      stopPrice: strOrNull(intent.stopPrice),
      status: rejected ? 'REJECTED' : 'NEW',
      filledQuantity: '0',
      averageFillPrice: null,
      triggered: false,
      reservePrice: rejected ? '0' : str(decision.reservePrice),
      reserveUnits: rejected ? '0' : str(decision.reserveUnits),
      reservedAmount: str(reservedAmount),
      rejectReason: decision.rejection?.reason ?? null,
      rejectMessage: decision.rejection?.message ?? null,
      replacesOrderId: opts.replacesOrderId ?? null,
      replacedByOrderId: null,
      expiresAt: rejected ? null : opts.expiresAt,
      lastTickTs: null,
      lastTickSeq: null,
      createdAt: now,
      updatedAt: now,
    };
    this.orders.set(row.id, { row, isNew: true, dirty: true });
    if (rejected) {
      this.event(row, 'REJECTED', {
        reason: decision.rejection?.reason ?? null,
        message: decision.rejection?.message ?? null,
        detail: decision.rejection?.detail ?? null,
      });
    } else {
      this.reserved = this.reserved.add(reservedAmount);
      this.accountDirty = true;
      this.moveOpen(row, intent.quantity);
      this.event(row, 'ACCEPTED', {
        detail: {
          reservation: str(reservedAmount),
          ...(opts.replacesOrderId ? { replaces: opts.replacesOrderId } : {}),
        },
      });
    }
    return row;
  }

  /** A stop order's stop price was reached. */
  trigger(order: OrderRow, tick: MarketTick): void {
    order.triggered = true;
    this.touch(order);
    this.event(order, 'TRIGGERED', { price: tick.price, detail: { lastPrice: tick.price } });
  }

  /**
   * Fills `quantity` of `order` at `price`: execution, cash ledger (trade and fee), position, order
   * state and reservation, in memory.
   * @returns null when filled, or the reason the guard refused the fill (nothing changed then)
   */
  fill(order: OrderRow, quantity: Dec, price: Dec, tick: MarketTick | null): FillRefusal | null {
    const notional = money(quantity.mul(price));
    const fee = feeFor(notional, this.pricing);
    const cashDelta = order.side === 'BUY' ? notional.add(fee).neg() : notional.sub(fee);
    const before = this.position(order.symbol);
    const { position: after } = applyFill(before, order.side, quantity, price);
    if (
      order.side === 'SELL' &&
      !this.limits.allowShortSelling &&
      after.quantity.isNegative() &&
      after.quantity.lt(before.quantity)
    ) {
      return 'SHORT_SELLING_NOT_ALLOWED';
    }
    const filled = new Dec(order.filledQuantity).add(quantity);
    const remaining = new Dec(order.quantity).sub(filled);
    const newReservation = this.reservationFor(order, remaining);
    const reserved = this.reserved.sub(order.reservedAmount).add(newReservation);
    const cash = this.cash.add(cashDelta);
    const bpBefore = this.buyingPower();
    const held = this.positions.get(order.symbol);
    const shortMargin = this.shortMarginWith(order.symbol, after);
    const bpAfter = cash.sub(reserved).sub(shortMargin);
    if (cash.isNegative() || (bpAfter.isNegative() && bpAfter.lt(bpBefore)))
      return 'INSUFFICIENT_BUYING_POWER';

    this.cash = cash;
    this.reserved = reserved;
    this.accountDirty = true;
    this.moveOpen(order, quantity.neg());
    if (held) {
      held.state = after;
      held.dirty = true;
    } else {
      this.positions.set(order.symbol, { state: after, dirty: true });
    }
    const executionId = randomUUID();
    const at = new Date(this.now);
    this.executions.push({
      id: executionId,
      orderId: order.id,
      accountId: this.account.id,
      symbol: order.symbol,
      side: order.side,
      quantity: str(quantity),
      price: str(price),
      notional: str(notional),
      fee: str(fee),
      executedAt: at,
    });
    this.ledger.push({
      kind: 'trade',
      amount: str(order.side === 'BUY' ? notional.neg() : notional),
      reference: executionId,
      createdAt: at,
    });
    if (!fee.isZero()) {
      this.ledger.push({ kind: 'fee', amount: str(fee.neg()), reference: executionId, createdAt: at });
    }
    const previousFilled = new Dec(order.filledQuantity);
    const avg = order.averageFillPrice
      ? fine(previousFilled.mul(order.averageFillPrice).add(quantity.mul(price)).div(filled))
      : price;
    order.filledQuantity = str(filled);
    order.averageFillPrice = str(avg);
    order.reservedAmount = str(newReservation);
    order.status = remaining.isZero() ? 'FILLED' : 'PARTIALLY_FILLED';
    if (tick) {
      order.lastTickTs = tick.ts;
      order.lastTickSeq = tick.seq;
    }
    this.touch(order);
    this.event(order, order.status === 'FILLED' ? 'FILLED' : 'PARTIALLY_FILLED', {
      quantity: str(quantity),
      price: str(price),
      detail: { executionId, notional: str(notional), fee: str(fee) },
    });
    return null;
  }

  /** Ends an open order (canceled, expired or replaced), releasing its reservation. */
  close(
    order: OrderRow,
    status: Extract<OrderStatus, 'CANCELED' | 'EXPIRED'>,
    type: Extract<OrderEventType, 'CANCELED' | 'EXPIRED' | 'REPLACED'>,
    reason: CancelReason,
    detail: Record<string, unknown> | null = null,
  ): void {
    if (!isOpen(order.status)) return;
    this.moveOpen(order, new Dec(order.filledQuantity).sub(order.quantity));
    this.reserved = this.reserved.sub(order.reservedAmount);
    this.accountDirty = true;
    order.reservedAmount = '0';
    order.status = status;
    this.touch(order);
    this.event(order, type, { reason, detail });
  }

  /** Marks `order` replaced by `replacementId` (the REPLACED event carries it). */
  markReplaced(order: OrderRow, replacementId: string): void {
    order.replacedByOrderId = replacementId;
    this.close(order, 'CANCELED', 'REPLACED', 'REPLACED', { replacedBy: replacementId });
  }

  /** True when `tick` was already applied to `order` (a tick never fills an order twice). */
  seen(order: OrderRow, tick: MarketTick): boolean {
    if (order.lastTickTs === null) return false;
    const seq = order.lastTickSeq ?? 0;
    return tick.ts < order.lastTickTs || (tick.ts === order.lastTickTs && tick.seq <= seq);
  }

  /** Writes everything the session changed (one statement) and reports it. */
  async flush(store: SessionStore): Promise<TxEffects> {
    const { changes, effects } = this.collect();
    await store.flush(changes);
    return effects;
  }

  /**
   * Everything the session changed, to be written in one statement (by {@link flush}, or sent with the
   * COMMIT by a caller that saves the round trip), and what it will have changed once committed.
   */
  collect(): { changes: SessionChanges; effects: TxEffects } {
    const tracked = [...this.orders.values()];
    const at = new Date(this.now);
    const positions: PositionRow[] = [];
    const heldPositions: PositionRow[] = [];
    for (const [symbol, p] of this.positions) {
      if (!p.dirty && p.state.quantity.isZero()) continue;
      const row: PositionRow = {
        accountId: this.account.id,
        symbol,
        quantity: str(p.state.quantity),
        averagePrice: str(p.state.averagePrice),
        realizedPnl: str(p.state.realizedPnl),
        updatedAt: p.dirty ? at : (p.updatedAt ?? at),
      };
      if (p.dirty) positions.push(row);
      if (!p.state.quantity.isZero()) heldPositions.push(row);
    }
    const account: AccountRow | null = this.accountDirty
      ? { ...this.account, cash: str(this.cash), reserved: str(this.reserved), updatedAt: at }
      : null;
    const changes: SessionChanges = {
      accountId: this.account.id,
      account,
      newOrders: tracked.filter((o) => o.isNew).map((o) => o.row),
      changedOrders: tracked.filter((o) => !o.isNew && o.dirty).map((o) => o.row),
      executions: this.executions,
      events: this.events,
      ledger: this.ledger,
      positions,
      // Only what changed: a market order that filled at once left its symbol's quantities as they were.
      openQuantities: [...this.open]
        .filter(([, q]) => !q.buy.eq(q.readBuy) || !q.sell.eq(q.readSell))
        .map(([symbol, q]) => ({ symbol, buy: str(q.buy), sell: str(q.sell) })),
    };
    const orders = tracked.filter((o) => o.dirty).map((o) => ({ ...o.row }));
    const byId = new Map(orders.map((o) => [o.id, o]));
    const effects: TxEffects = {
      accountId: this.account.id,
      orders,
      trades: this.executions.map((execution) => ({
        execution,
        order: byId.get(execution.orderId) ?? (this.orders.get(execution.orderId)?.row as OrderRow),
      })),
      positions,
      heldPositions,
      account: account ?? this.account,
    };
    return { changes, effects };
  }

  /** Adds `delta` to the open quantity of the order's symbol and side. */
  private moveOpen(order: OrderRow, delta: Dec): void {
    const zero = new Dec(0);
    const q = this.open.get(order.symbol) ?? { buy: zero, sell: zero, readBuy: zero, readSell: zero };
    if (order.side === 'BUY') q.buy = q.buy.add(delta);
    else q.sell = q.sell.add(delta);
    this.open.set(order.symbol, q);
  }

  private reservationFor(order: OrderRow, remaining: Dec): Dec {
    if (remaining.lte(0)) return new Dec(0);
    return moneyUp(Dec.min(remaining, order.reserveUnits).mul(order.reservePrice));
  }

  private shortMarginWith(symbol: string, replaced: PositionState): Dec {
    let total = new Dec(0);
    for (const [s, { state }] of this.positions) {
      const p = s === symbol ? replaced : state;
      if (p.quantity.isNegative()) total = total.add(p.quantity.abs().mul(p.averagePrice));
    }
    if (!this.positions.has(symbol) && replaced.quantity.isNegative()) {
      total = total.add(replaced.quantity.abs().mul(replaced.averagePrice));
    }
    return moneyUp(total.mul(this.pricing.shortMarginRate));
  }

  private touch(order: OrderRow): void {
    const t = this.orders.get(order.id);
    if (t) t.dirty = true;
    order.updatedAt = new Date(this.now);
  }

  private event(
    order: OrderRow,
    type: OrderEventType,
    extra: {
      reason?: string | null;
      message?: string | null;
      quantity?: string;
      price?: string;
      detail?: unknown;
    },
  ): void {
    this.events.push({
      orderId: order.id,
      type,
      status: order.status,
      reason: extra.reason ?? null,
      message: extra.message ?? null,
      quantity: extra.quantity ?? null,
      price: extra.price ?? null,
      detail: extra.detail ?? null,
      createdAt: new Date(this.now),
    });
  }
}

/** Risk limits from their row (or the defaults when the account has none). */
export function limitsFromRow(
  row:
    | {
        maxOrderQuantity: string | null;
        minOrderQuantity: string | null;
        maxOrderNotional: string | null;
        maxPositionQuantity: string | null;
        maxGrossExposure: string | null;
        priceCollarPct: string | null;
        allowShortSelling: boolean;
        maxOrdersPerMinute: number | null;
        dailyLossLimit: string | null;
        updatedAt: Date;
      }
    | undefined,
  defaults: EffectiveLimits,
): EffectiveLimits {
  if (!row) return defaults;
  return {
    maxOrderQuantity: dec(row.maxOrderQuantity),
    minOrderQuantity: dec(row.minOrderQuantity),
    maxOrderNotional: dec(row.maxOrderNotional),
    maxPositionQuantity: dec(row.maxPositionQuantity),
    maxGrossExposure: dec(row.maxGrossExposure),
    priceCollarPct: dec(row.priceCollarPct),
    allowShortSelling: row.allowShortSelling,
    maxOrdersPerMinute: row.maxOrdersPerMinute,
    dailyLossLimit: dec(row.dailyLossLimit),
    updatedAt: row.updatedAt,
  };
}

/**
 * Locks an account (or reads it, for dry runs) and loads what a session needs: positions and limits,
 * plus (when given) whether a clientOrderId exists, the open quantities of a symbol, and orders (locked
 * and adopted by the session, oldest first). One round trip.
 * @returns undefined when the account does not exist in this tenant
 */
export async function openSession(
  store: SessionStore,
  accountId: string,
  pricing: PricingConfig,
  now: number,
  opts: OpenSessionOptions & { defaults: EffectiveLimits },
): Promise<OpenedSession | undefined> {
  const opened = await store.open(accountId, opts);
  return opened && sessionOf(opened, pricing, now, opts.defaults);
}

/** An account's session, with what was read to start it. */
export interface OpenedSession {
  session: AccountSession;
  data: SessionData;
  /** The orders asked for, locked and adopted by the session, oldest first. */
  orders: OrderRow[];
}

/** The session of an account read by `trading_open_session` (see {@link openSession}). */
export function sessionOf(
  opened: { account: AccountRow; data: SessionData; orders: OrderRow[] },
  pricing: PricingConfig,
  now: number,
  defaults: EffectiveLimits,
): OpenedSession {
  const { account, data } = opened;
  const session = new AccountSession(
    account,
    data.positions,
    limitsFromRow(data.limits, defaults),
    pricing,
    now,
    data.open,
  );
  return { session, data, orders: opened.orders.map((o) => session.adopt(o)) };
}
