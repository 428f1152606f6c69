/**
 * Position accounting with average cost: adding to a position moves the average price; reducing it
 * realizes P&L against the average (which stays); crossing through zero realizes the closed part and
 * opens the rest at the fill price. {@link PositionBook} holds an account's positions in a session.
 */
import { Dec, fine, money, str } from './decimal.js';
import type { PositionRow } from './db/tenant-schema.js';
import { sideSign, type Side } from './order.types.js';

export interface PositionState {
  quantity: Dec;
  averagePrice: Dec;
  realizedPnl: Dec;
}

/** The position after a fill of `quantity` at `price`, and the P&L the fill realized. */
export function applyFill(
  pos: PositionState,
  side: Side,
  quantity: Dec,
  price: Dec,
): { position: PositionState; realized: Dec } {
  const q = pos.quantity;
  const signed = quantity.mul(sideSign(side));
  const next = q.add(signed);
  if (q.isZero() || q.isNegative() === signed.isNegative()) {
    const avg = fine(q.abs().mul(pos.averagePrice).add(quantity.mul(price)).div(next.abs()));
    return {
      position: { quantity: next, averagePrice: avg, realizedPnl: pos.realizedPnl },
      realized: new Dec(0),
    };
  }
  const closing = Dec.min(quantity, q.abs());
  const realized = money(closing.mul(price.sub(pos.averagePrice)).mul(q.isNegative() ? -1 : 1));
  let avg: Dec;
  if (next.isZero()) avg = new Dec(0);
  else if (next.isNegative() === q.isNegative()) avg = pos.averagePrice;
  else avg = price;
  return {
    position: { quantity: next, averagePrice: avg, realizedPnl: pos.realizedPnl.add(realized) },
    realized,
  };
}

/** Market value and unrealized P&L of a position at `mark` (null without a mark). */
export function valuation(
  pos: PositionState,
  mark: Dec | null,
): { marketValue: Dec | null; unrealized: Dec | null } {
  if (mark === null) return { marketValue: null, unrealized: null };
  return {
    marketValue: pos.quantity.mul(mark),
    unrealized: pos.quantity.mul(mark.sub(pos.averagePrice)),
  };
}

interface TrackedPosition {
  state: PositionState;
  dirty: boolean;
  /** When it last changed, as read (undefined for one this session created). */
  updatedAt?: Date;
}

/** The positions of one account in a session: read once, changed by fills, written when dirty. */
export class PositionBook {
  private readonly positions = new Map<string, TrackedPosition>();

  constructor(rows: readonly PositionRow[]) {
    for (const p of rows) {
      const state = {
        quantity: new Dec(p.quantity),
        averagePrice: new Dec(p.averagePrice),
        realizedPnl: new Dec(p.realizedPnl),
      };
      this.positions.set(p.symbol, { state, dirty: false, updatedAt: p.updatedAt });
    }
  }

  /** True when a fill changed a position. */
  get changed(): boolean {
    for (const p of this.positions.values()) if (p.dirty) return true;
    return false;
  }

  /** The position in `symbol` (flat when none). */
  get(symbol: string): PositionState {
    const zero = new Dec(0);
    return this.positions.get(symbol)?.state ?? { quantity: zero, averagePrice: zero, realizedPnl: zero };
  }

  set(symbol: string, state: PositionState): void {
    const held = this.positions.get(symbol);
    if (held) {
      held.state = state;
      held.dirty = true;
    } else {
      this.positions.set(symbol, { state, dirty: true });
    }
  }

  /** Symbols of non-flat positions. */
  heldSymbols(): string[] {
    return [...this.positions].filter(([, p]) => !p.state.quantity.isZero()).map(([s]) => s);
  }

  /** Sum of quantity * mark (signed: equity) or of |quantity * mark| (gross exposure). */
  value(marks: ReadonlyMap<string, Dec>, gross: boolean): Dec {
    let total = new Dec(0);
    for (const [symbol, { state }] of this.positions) {
      const v = state.quantity.mul(marks.get(symbol) ?? state.averagePrice);
      total = total.add(gross ? v.abs() : v);
    }
    return total;
  }

  /** Cost of the short positions (|quantity| * average price), with `symbol` at `replaced` when given. */
  shortCost(symbol?: string, replaced?: PositionState): Dec {
    let total = new Dec(0);
    const add = (p: PositionState): void => {
      if (p.quantity.isNegative()) total = total.add(p.quantity.abs().mul(p.averagePrice));
    };
    for (const [s, { state }] of this.positions) add(replaced && s === symbol ? replaced : state);
    if (replaced && symbol !== undefined && !this.positions.has(symbol)) add(replaced);
    return total;
  }

  /** Rows of the changed positions, and of every non-flat one (see TxEffects). */
  rows(accountId: string, at: Date): { positions: PositionRow[]; heldPositions: PositionRow[] } {
    const positions: PositionRow[] = [];
    const heldPositions: PositionRow[] = [];
    for (const [symbol, p] of this.positions) {
      if (!p.dirty && p.state.quantity.isZero()) continue;
      const row: PositionRow = {
        accountId,
        symbol,
        quantity: str(p.state.quantity),
        averagePrice: str(p.state.averagePrice),
        realizedPnl: str(p.state.realizedPnl),
        updatedAt: p.dirty ? at : (p.updatedAt ?? at),
      };
      if (p.dirty) positions.push(row);
      if (!p.state.quantity.isZero()) heldPositions.push(row);
    }
    return { positions, heldPositions };
  }
}
