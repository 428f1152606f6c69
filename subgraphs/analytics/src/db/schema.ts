/**
 * Analytics tables of the tenant template. They live in every tenant schema (`t_<id>`) next to
 * trading's tables, so they carry NO schema qualifier: the SQL lands in whatever schema
 * `search_path` names when the tenants worker applies it. Generate with
 * `npx drizzle-kit generate --config subgraphs/analytics/drizzle.config.ts`, then remove any
 * `"public".` drizzle-kit writes (subgraphs/tenants/test/template.test.ts fails on it).
 *
 * No foreign keys to trading's tables: analytics only reads them, and its migrations must not
 * depend on the order or content of another owner's migration set.
 */
import { sql } from 'drizzle-orm';
import {
  bigserial,
  boolean,
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

const money = (name: string) => numeric(name, { precision: 20, scale: 4 });
const qty = (name: string) => numeric(name, { precision: 28, scale: 10 });

export const SNAPSHOT_KINDS = ['daily', 'intraday'] as const;
export type SnapshotKind = (typeof SNAPSHOT_KINDS)[number];

/**
 * Equity of an account at a point in time. `external_flow` is the net deposit (+) / withdrawal (-)
 * since the previous snapshot of the same kind, already included in `equity` (time-weighted returns).
 * A daily row exists once per account and UTC day (`snapshot_day`) and holds the day's last value.
 */
export const equitySnapshots = pgTable(
  'equity_snapshots',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    accountId: uuid('account_id').notNull(),
    kind: text('kind', { enum: SNAPSHOT_KINDS }).notNull(),
    at: timestamp('at', { withTimezone: true }).notNull(),
    day: date('snapshot_day', { mode: 'string' }).notNull(),
    equity: money('equity').notNull(),
    cash: money('cash').notNull(),
    positionsValue: money('positions_value').notNull().default('0'),
    externalFlow: money('external_flow').notNull().default('0'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('equity_snapshots_account_kind_at_idx').on(t.accountId, t.kind, t.at),
    uniqueIndex('equity_snapshots_daily_unique')
      .on(t.accountId, t.day)
      .where(sql`${t.kind} = 'daily'`),
    check('equity_snapshots_kind_check', sql.raw(`"kind" IN ('daily', 'intraday')`)),
  ],
);

/** Round trips closed by fills (average cost), for trade statistics. */
export const closedTrades = pgTable(
  'closed_trades',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    accountId: uuid('account_id').notNull(),
    symbol: text('symbol').notNull(),
    direction: text('direction', { enum: ['LONG', 'SHORT'] }).notNull(),
    quantity: qty('quantity').notNull(),
    entryPrice: qty('entry_price').notNull(),
    exitPrice: qty('exit_price').notNull(),
    pnl: money('pnl').notNull(),
    openedAt: timestamp('opened_at', { withTimezone: true }).notNull(),
    closedAt: timestamp('closed_at', { withTimezone: true }).notNull(),
    /** The trade (execution) that closed it. */
    tradeId: text('trade_id').notNull(),
  },
  (t) => [
    index('closed_trades_account_closed_idx').on(t.accountId, t.closedAt),
    check('closed_trades_direction_check', sql.raw(`"direction" IN ('LONG', 'SHORT')`)),
  ],
);

/**
 * `closed_trades` summed per account and UTC day of `closed_at`, kept by triggers on `closed_trades`
 * (insert, update, delete; written in the migration, drizzle has no triggers) in the same
 * transaction as the rows. Trade statistics read whole days here and only the partial days at the
 * ends of a period from `closed_trades`, so a report over 100,000 trades sums ~1,000 rows. Sums
 * are exact (numeric); `holding_seconds` is the sum of `closed_at - opened_at` in seconds.
 */
export const closedTradeDays = pgTable(
  'closed_trade_days',
  {
    accountId: uuid('account_id').notNull(),
    day: date('day', { mode: 'string' }).notNull(),
    trades: integer('trades').notNull(),
    wins: integer('wins').notNull(),
    losses: integer('losses').notNull(),
    grossProfit: numeric('gross_profit').notNull(),
    grossLoss: numeric('gross_loss').notNull(),
    holdingSeconds: numeric('holding_seconds').notNull(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.day] })],
);

/** Open position per account and symbol as analytics tracks it to derive round trips. */
export const tradeLots = pgTable(
  'trade_lots',
  {
    accountId: uuid('account_id').notNull(),
    symbol: text('symbol').notNull(),
    quantity: qty('quantity').notNull(),
    averagePrice: qty('average_price').notNull(),
    openedAt: timestamp('opened_at', { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.symbol] })],
);

/** Trades already applied to the lots: a redelivered stream entry is applied once. */
export const appliedTrades = pgTable(
  'applied_trades',
  {
    tradeId: text('trade_id').primaryKey(),
    accountId: uuid('account_id').notNull(),
    executedAt: timestamp('executed_at', { withTimezone: true }).notNull(),
    appliedAt: timestamp('applied_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('applied_trades_account_idx').on(t.accountId, t.executedAt)],
);

/** Saved dashboards: per user within the tenant, optionally shared (read-only) with the tenant. */
export const dashboards = pgTable(
  'dashboards',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    ownerUserId: uuid('owner_user_id').notNull(),
    name: text('name').notNull(),
    widgets: jsonb('widgets')
      .notNull()
      .default(sql`'[]'::jsonb`),
    version: integer('version').notNull().default(1),
    shared: boolean('shared').notNull().default(false),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('dashboards_owner_idx').on(t.ownerUserId, t.updatedAt),
    index('dashboards_shared_idx')
      .on(t.updatedAt)
      .where(sql`${t.shared}`),
    check('dashboards_version_positive', sql`${t.version} > 0`),
  ],
);

export type EquitySnapshotRow = typeof equitySnapshots.$inferSelect;
export type DashboardRow = typeof dashboards.$inferSelect;
