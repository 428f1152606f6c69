/**
 * Tables of the `trading` tenant template. They live in every tenant schema (`t_<id>`), so they carry
 * NO schema qualifier: the generated SQL is unqualified and lands in whatever schema `search_path`
 * names when the tenants worker applies it (and queries resolve the same way inside withTenant).
 * Generate with `npx drizzle-kit generate --config subgraphs/trading/drizzle.tenant.config.ts`, then
 * remove the `"public".` drizzle-kit writes into foreign keys (a test in subgraphs/tenants fails on it).
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  char,
  check,
  date,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

export const SIDES = ['BUY', 'SELL'] as const;
export const ORDER_TYPES = ['MARKET', 'LIMIT', 'STOP', 'STOP_LIMIT'] as const;
export const TIMES_IN_FORCE = ['DAY', 'GTC', 'IOC', 'FOK'] as const;
export const ORDER_STATUSES = [
  'NEW',
  'PARTIALLY_FILLED',
  'FILLED',
  'CANCELED',
  'REJECTED',
  'EXPIRED',
] as const;
export const TRADING_STATES = ['ACTIVE', 'REDUCING', 'HALTED'] as const;
export const ORDER_EVENT_TYPES = [
  'ACCEPTED',
  'REJECTED',
  'TRIGGERED',
  'PARTIALLY_FILLED',
  'FILLED',
  'CANCELED',
  'EXPIRED',
  'REPLACED',
] as const;

const inList = (values: readonly string[]): string => values.map((v) => `'${v}'`).join(', ');

const price = (name: string) => numeric(name, { precision: 28, scale: 10 });
const qty = (name: string) => numeric(name, { precision: 28, scale: 10 });
const money = (name: string) => numeric(name, { precision: 20, scale: 4 });

/**
 * Money is `numeric`: cash amounts with 4 decimals (the ledger's unit), prices and quantities with 10
 * (FX ticks are 0.00001, crypto lots 0.0001). Columns added after 0000 have defaults, because the
 * tenants worker's `paper-account` seed inserts accounts and ledger rows naming only the 0000 columns.
 */
export const accounts = pgTable(
  'accounts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    currency: char('currency', { length: 3 }).notNull().default('USD'),
    cash: money('cash').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    /** Cash held back by open buy orders (and short sales): sum of `orders.reserved_amount` of open orders. */
    reserved: money('reserved').notNull().default('0'),
    tradingState: text('trading_state', { enum: TRADING_STATES }).notNull().default('ACTIVE'),
    /** Machine-readable cause of the last state change (e.g. DAILY_LOSS_LIMIT). */
    tradingStateReason: text('trading_state_reason'),
    /** Order-rate window: start of the current minute and orders placed in it. */
    rateWindowStart: timestamp('rate_window_start', { withTimezone: true }),
    rateWindowCount: integer('rate_window_count').notNull().default(0),
    /** Equity at the first activity of the trading day; the daily loss limit compares against it. */
    dayStartDate: date('day_start_date', { mode: 'string' }),
    dayStartEquity: money('day_start_equity'),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    check('accounts_trading_state_check', sql.raw(`"trading_state" IN (${inList(TRADING_STATES)})`)),
    check('accounts_cash_nonnegative', sql`${t.cash} >= 0`),
    check('accounts_reserved_nonnegative', sql`${t.reserved} >= 0`),
  ],
);

export const cashLedger = pgTable(
  'cash_ledger',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    // deposit, withdrawal, trade, fee
    kind: text('kind').notNull(),
    amount: money('amount').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    /** The execution of a trade or fee row; the caller's reference of a deposit or withdrawal (idempotency). */
    reference: text('reference'),
  },
  (t) => [
    index('cash_ledger_account_idx').on(t.accountId, t.createdAt),
    uniqueIndex('cash_ledger_reference_unique')
      .on(t.accountId, t.kind, t.reference)
      .where(sql`${t.reference} IS NOT NULL`),
  ],
);

export const orders = pgTable(
  'orders',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    clientOrderId: text('client_order_id').notNull(),
    symbol: text('symbol').notNull(),
    side: text('side', { enum: SIDES }).notNull(),
    type: text('type', { enum: ORDER_TYPES }).notNull(),
    timeInForce: text('time_in_force', { enum: TIMES_IN_FORCE }).notNull(),
    quantity: qty('quantity').notNull(),
    limitPrice: price('limit_price'),
    stopPrice: price('stop_price'),
    status: text('status', { enum: ORDER_STATUSES }).notNull(),
    filledQuantity: qty('filled_quantity').notNull().default('0'),
    averageFillPrice: price('average_fill_price'),
    /** A stop (limit) order whose stop price was reached: it now behaves as a market (limit) order. */
    triggered: boolean('triggered').notNull().default(false),
    /** Cash reserved per unit (price, fee and margin included) and how many units carry it. */
    reservePrice: price('reserve_price').notNull().default('0'),
    reserveUnits: qty('reserve_units').notNull().default('0'),
    /** Cash this order holds back now (0 once it is no longer open). */
    reservedAmount: money('reserved_amount').notNull().default('0'),
    rejectReason: text('reject_reason'),
    rejectMessage: text('reject_message'),
    replacesOrderId: uuid('replaces_order_id'),
    replacedByOrderId: uuid('replaced_by_order_id'),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    /** Last tick (feed time, sequence) that filled this order: a tick is never applied twice. */
    lastTickTs: bigint('last_tick_ts', { mode: 'number' }),
    lastTickSeq: bigint('last_tick_seq', { mode: 'number' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('orders_client_order_id_unique').on(t.accountId, t.clientOrderId),
    index('orders_account_created_idx').on(t.accountId, t.createdAt),
    index('orders_open_symbol_idx')
      .on(t.symbol, t.accountId)
      .where(sql`${t.status} IN ('NEW', 'PARTIALLY_FILLED')`),
    check('orders_side_check', sql.raw(`"side" IN (${inList(SIDES)})`)),
    check('orders_type_check', sql.raw(`"type" IN (${inList(ORDER_TYPES)})`)),
    check('orders_tif_check', sql.raw(`"time_in_force" IN (${inList(TIMES_IN_FORCE)})`)),
    check('orders_status_check', sql.raw(`"status" IN (${inList(ORDER_STATUSES)})`)),
    check('orders_quantity_positive', sql`${t.quantity} > 0`),
    check('orders_filled_bounds', sql`${t.filledQuantity} >= 0 AND ${t.filledQuantity} <= ${t.quantity}`),
    check('orders_reserved_nonnegative', sql`${t.reservedAmount} >= 0`),
  ],
);

/** Append-only (a trigger in 0002 refuses UPDATE, DELETE and TRUNCATE). */
export const orderEvents = pgTable(
  'order_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    orderId: uuid('order_id')
      .notNull()
      .references(() => orders.id),
    accountId: uuid('account_id').notNull(),
    type: text('type', { enum: ORDER_EVENT_TYPES }).notNull(),
    /** Order status right after the event. */
    status: text('status', { enum: ORDER_STATUSES }).notNull(),
    reason: text('reason'),
    message: text('message'),
    quantity: qty('quantity'),
    price: price('price'),
    detail: jsonb('detail'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('order_events_order_idx').on(t.orderId, t.id),
    check('order_events_type_check', sql.raw(`"type" IN (${inList(ORDER_EVENT_TYPES)})`)),
  ],
);

export const executions = pgTable(
  'executions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orderId: uuid('order_id')
      .notNull()
      .references(() => orders.id),
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    symbol: text('symbol').notNull(),
    side: text('side', { enum: SIDES }).notNull(),
    quantity: qty('quantity').notNull(),
    price: price('price').notNull(),
    /** quantity * price rounded to the ledger's 4 decimals: what the cash ledger moved. */
    notional: money('notional').notNull(),
    fee: money('fee').notNull().default('0'),
    executedAt: timestamp('executed_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('executions_account_idx').on(t.accountId, t.executedAt),
    index('executions_order_idx').on(t.orderId),
    check('executions_quantity_positive', sql`${t.quantity} > 0`),
  ],
);

export const positions = pgTable(
  'positions',
  {
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    symbol: text('symbol').notNull(),
    /** Signed: negative is short. */
    quantity: qty('quantity').notNull().default('0'),
    averagePrice: price('average_price').notNull().default('0'),
    realizedPnl: money('realized_pnl').notNull().default('0'),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.symbol] })],
);

/**
 * Remaining quantity of an account's open orders (NEW, PARTIALLY_FILLED) per symbol and side, kept by
 * the account's session with every order change, in the same transaction: the position and exposure
 * checks read one row per symbol instead of summing the account's orders (a sum whose plan depended on
 * the table's statistics, and grew with its history).
 */
export const openQuantities = pgTable(
  'open_quantities',
  {
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    symbol: text('symbol').notNull(),
    buy: qty('buy').notNull().default('0'),
    sell: qty('sell').notNull().default('0'),
  },
  (t) => [
    primaryKey({ columns: [t.accountId, t.symbol] }),
    check('open_quantities_nonnegative', sql`${t.buy} >= 0 AND ${t.sell} >= 0`),
  ],
);

/** Per-account limits; NULL means "no limit", a missing row means the defaults (risk.rules.ts). */
export const riskLimits = pgTable('risk_limits', {
  accountId: uuid('account_id')
    .primaryKey()
    .references(() => accounts.id),
  maxOrderQuantity: qty('max_order_quantity'),
  minOrderQuantity: qty('min_order_quantity'),
  maxOrderNotional: money('max_order_notional'),
  maxPositionQuantity: qty('max_position_quantity'),
  maxGrossExposure: money('max_gross_exposure'),
  /** Fraction: 0.1 accepts limit and stop prices within 10 % of the last price. */
  priceCollarPct: numeric('price_collar_pct', { precision: 10, scale: 6 }),
  allowShortSelling: boolean('allow_short_selling').notNull().default(false),
  maxOrdersPerMinute: integer('max_orders_per_minute'),
  dailyLossLimit: money('daily_loss_limit'),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  updatedBy: uuid('updated_by'),
});

export type AccountRow = typeof accounts.$inferSelect;
export type CashLedgerRow = typeof cashLedger.$inferSelect;
export type OrderRow = typeof orders.$inferSelect;
export type NewOrderRow = typeof orders.$inferInsert;
export type OrderEventRow = typeof orderEvents.$inferSelect;
export type ExecutionRow = typeof executions.$inferSelect;
export type PositionRow = typeof positions.$inferSelect;
export type RiskLimitsRow = typeof riskLimits.$inferSelect;
export type OpenQuantitiesRow = typeof openQuantities.$inferSelect;
export type Side = (typeof SIDES)[number];
export type OrderType = (typeof ORDER_TYPES)[number];
export type TimeInForce = (typeof TIMES_IN_FORCE)[number];
export type OrderStatus = (typeof ORDER_STATUSES)[number];
export type TradingState = (typeof TRADING_STATES)[number];
export type OrderEventType = (typeof ORDER_EVENT_TYPES)[number];
