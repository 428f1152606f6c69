/**
 * One account inside one transaction, as loaded by session.store.ts: the account row (locked), its
 * positions and the orders the transaction touches, changed in memory by the order lifecycle (create,
 * trigger, fill, cancel, expire); {@link AccountSession.collect} hands the changes back to be written.
 * Every change of an order appends an order event; every fill an execution and its cash-ledger rows, so
 * cash = deposits - withdrawals - net trade value - fees holds row by row. The fill guard keeps cash
 * from going negative, and buying power too unless the fill improves it; a refused fill changes nothing.
 */
import { randomUUID } from 'node:crypto';
import { Dec, fine, money, moneyUp, str, strOrNull } from './decimal.js';
import type { AccountRow, OrderEventType, OrderRow, OrderStatus } from './db/tenant-schema.js';
import type { MarketTick } from './market/market-tick.js';
import {
  feeFor,
  isOpen,
  tradingDay,
  type CancelReason,
  type OrderIntent,
  type PricingConfig,
} from './order.types.js';
import { applyFill, PositionBook, type PositionState } from './position.math.js';
import { limitsFromRow, type EffectiveLimits } from './risk-limits.js';
import type { RiskDecision } from './risk.rules.js';
import {
  SessionJournal,
  type SessionChanges,
  type SessionSnapshot,
  type TxEffects,
} from './session-changes.js';

/** Why a fill was refused by the guard. */
export type FillRefusal = Extract<CancelReason, 'INSUFFICIENT_BUYING_POWER' | 'SHORT_SELLING_NOT_ALLOWED'>;

export class AccountSession {
  private cash: Dec;
  private reserved: Dec;
  private account: AccountRow;
  private accountDirty = false;
  private readonly positions: PositionBook;
  private readonly journal: SessionJournal;
  private readonly existing: ReadonlyMap<string, string>;
  readonly limits: EffectiveLimits;
  /** The orders the session was loaded with (locked, oldest first), tracked: changes apply to them. */
  readonly requested: OrderRow[];

  constructor(
    snapshot: SessionSnapshot,
    private readonly pricing: PricingConfig,
    private readonly now: number,
  ) {
    this.account = snapshot.account;
    this.existing = snapshot.existing;
    this.limits = limitsFromRow(snapshot.limits);
    this.journal = new SessionJournal(snapshot.open, now);
    this.cash = new Dec(snapshot.account.cash);
    this.reserved = new Dec(snapshot.account.reserved);
    this.positions = new PositionBook(snapshot.positions);
    this.requested = snapshot.orders.map((o) => this.journal.adopt(o));
  }

  /** Id of the account's order that uses `clientOrderId`, among those the session was loaded with. */
  existingOrderId(clientOrderId: string): string | undefined {
    return this.existing.get(clientOrderId);
  }

  /** True when the session changed anything (nothing to write otherwise). */
  get changed(): boolean {
    return this.accountDirty || this.journal.changed || this.positions.changed;
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
    return moneyUp(this.positions.shortCost().mul(this.pricing.shortMarginRate));
  }

  buyingPower(): Dec {
    return this.cash.sub(this.reserved).sub(this.shortMargin());
  }

  position(symbol: string): PositionState {
    return this.positions.get(symbol);
  }

  /** Remaining quantity of the account's open orders in `symbol`, by side. */
  openQuantities(symbol: string): { buy: Dec; sell: Dec } {
    return this.journal.openQuantities(symbol);
  }

  /** Symbols of non-flat positions. */
  heldSymbols(): string[] {
    return this.positions.heldSymbols();
  }

  /** Equity at the given marks (a position without a mark counts at its average price). */
  equity(marks: ReadonlyMap<string, Dec>): Dec {
    return this.cash.add(this.positions.value(marks, false));
  }

  /** Sum of |quantity * mark| over the positions. */
  grossExposure(marks: ReadonlyMap<string, Dec>): Dec {
    return this.positions.value(marks, true);
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
    this.journal.ledger.push({ kind, amount: str(signed), reference, createdAt: new Date(this.now) });
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
    return this.journal.adopt(row);
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
    this.journal.create(row);
    if (rejected) {
      this.journal.event(row, 'REJECTED', {
        reason: decision.rejection?.reason ?? null,
        message: decision.rejection?.message ?? null,
        detail: decision.rejection?.detail ?? null,
      });
    } else {
      this.reserved = this.reserved.add(reservedAmount);
      this.accountDirty = true;
      this.journal.moveOpen(row, intent.quantity);
      this.journal.event(row, 'ACCEPTED', {
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
    this.journal.touch(order);
    this.journal.event(order, 'TRIGGERED', { price: tick.price, detail: { lastPrice: tick.price } });
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
    const shortCost = this.positions.shortCost(order.symbol, after);
    const shortMargin = moneyUp(shortCost.mul(this.pricing.shortMarginRate));
    const bpAfter = cash.sub(reserved).sub(shortMargin);
    if (cash.isNegative() || (bpAfter.isNegative() && bpAfter.lt(bpBefore)))
      return 'INSUFFICIENT_BUYING_POWER';

    this.cash = cash;
    this.reserved = reserved;
    this.accountDirty = true;
    this.journal.moveOpen(order, quantity.neg());
    this.positions.set(order.symbol, after);
    const executionId = this.journal.trade(order, quantity, price, notional, fee);
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
    this.journal.touch(order);
    this.journal.event(order, order.status === 'FILLED' ? 'FILLED' : 'PARTIALLY_FILLED', {
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
    this.journal.moveOpen(order, new Dec(order.filledQuantity).sub(order.quantity));
    this.reserved = this.reserved.sub(order.reservedAmount);
    this.accountDirty = true;
    order.reservedAmount = '0';
    order.status = status;
    this.journal.touch(order);
    this.journal.event(order, type, { reason, detail });
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

  /** Everything the session changed, to be written, and what it will have changed once committed. */
  collect(): { changes: SessionChanges; effects: TxEffects } {
    const at = new Date(this.now);
    const { positions, heldPositions } = this.positions.rows(this.account.id, at);
    const account: AccountRow | null = this.accountDirty
      ? { ...this.account, cash: str(this.cash), reserved: str(this.reserved), updatedAt: at }
      : null;
    const { newOrders, changedOrders, openQuantities, orders, trades } = this.journal.collect();
    const { executions, events, ledger } = this.journal;
    const accountId = this.account.id;
    return {
      changes: {
        accountId,
        account,
        newOrders,
        changedOrders,
        executions,
        events,
        ledger,
        positions,
        openQuantities,
      },
      effects: { accountId, orders, trades, positions, heldPositions, account: account ?? this.account },
    };
  }

  private reservationFor(order: OrderRow, remaining: Dec): Dec {
    if (remaining.lte(0)) return new Dec(0);
    return moneyUp(Dec.min(remaining, order.reserveUnits).mul(order.reservePrice));
  }
}
