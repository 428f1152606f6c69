/**
 * What resolvers receive for each GraphQL type (codegen mappers): database rows or small views of
 * them. Decimals stay exact (strings or decimal.js values) until the Decimal scalar serializes them.
 */
import type { Dec } from './decimal.js';
import type { AccountRow, CashLedgerRow, ExecutionRow, OrderEventRow, OrderRow } from './db/tenant-schema.js';
import type { EffectiveLimits } from './risk.rules.js';

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
