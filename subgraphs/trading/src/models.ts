/**
 * What resolvers receive for each GraphQL type (codegen mappers): database rows or small views of
 * them, built here. Decimals stay exact (strings or decimal.js values) until the Decimal scalar
 * serializes them.
 */
import { Dec, moneyUp } from './decimal.js';
import type {
  AccountRow,
  CashLedgerRow,
  ExecutionRow,
  OrderEventRow,
  OrderRow,
  PositionRow,
} from './db/tenant-schema.js';
import type { EffectiveLimits } from './risk-limits.js';

export interface PositionModel {
  accountId: string;
  symbol: string;
  quantity: Dec;
  averagePrice: Dec;
  realizedPnl: Dec;
  /** Last price of the symbol; null without a quote. */
  lastPrice: Dec | null;
}

export interface AccountModel {
  row: AccountRow;
  /** Non-flat positions, by symbol. */
  positions: PositionModel[];
  /** Realized P&L of every position, flat ones included. */
  realizedPnl: Dec;
  limits: EffectiveLimits;
  shortMargin: Dec;
}

export type OrderModel = OrderRow;
export type OrderEventModel = OrderEventRow;
export type LedgerEntryModel = CashLedgerRow;
export type RiskLimitsModel = EffectiveLimits;

/** An execution, with its order when already at hand (trade events carry it). */
export type TradeModel = ExecutionRow & { order?: OrderRow | undefined };

export interface OrderPreviewModel {
  accepted: boolean;
  rejectReason: string | null;
  message: string | null;
  estimatedPrice: Dec | null;
  estimatedNotional: Dec | null;
  estimatedFee: Dec | null;
  reservation: Dec;
  buyingPower: Dec;
  buyingPowerAfter: Dec;
}

/** A reference to market-data's Instrument entity. */
export interface InstrumentRefModel {
  symbol: string;
}

/** A position as the API shows it, valued at `marks` when the symbol has one. */
export function positionModel(p: PositionRow, marks: ReadonlyMap<string, Dec>): PositionModel {
  return {
    accountId: p.accountId,
    symbol: p.symbol,
    quantity: new Dec(p.quantity),
    averagePrice: new Dec(p.averagePrice),
    realizedPnl: new Dec(p.realizedPnl),
    lastPrice: marks.get(p.symbol) ?? null,
  };
}

/** An account as the API shows it, from its row, every position row (flat ones too) and its limits. */
export function accountModel(
  row: AccountRow,
  positions: readonly PositionRow[],
  limits: EffectiveLimits,
  marks: ReadonlyMap<string, Dec>,
  shortMarginRate: Dec,
): AccountModel {
  let shortCost = new Dec(0);
  let realized = new Dec(0);
  for (const p of positions) {
    realized = realized.add(p.realizedPnl);
    const q = new Dec(p.quantity);
    if (q.isNegative()) shortCost = shortCost.add(q.abs().mul(p.averagePrice));
  }
  return {
    row,
    positions: positions.filter((p) => !new Dec(p.quantity).isZero()).map((p) => positionModel(p, marks)),
    realizedPnl: realized,
    limits,
    shortMargin: moneyUp(shortCost.mul(shortMarginRate)),
  };
}
