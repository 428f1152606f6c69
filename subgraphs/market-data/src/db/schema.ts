/**
 * Platform tables of the market-data subgraph, in the `market` schema (market data is platform-wide,
 * not per tenant). `market.ticks` is not here: it is partitioned by day, which drizzle-kit does not
 * model, so it lives in the custom migration `0001_ticks_partitioned.sql` and is written with raw SQL
 * (see `tick.repository.ts`).
 */
import { sql } from 'drizzle-orm';
import { bigint, boolean, check, numeric, pgSchema, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';

/** Asset classes of the catalog (`Instrument.assetClass`). */
export const ASSET_CLASSES = ['EQUITY', 'ETF', 'FX', 'CRYPTO'] as const;
export type AssetClass = (typeof ASSET_CLASSES)[number];

export const market = pgSchema('market');

export const instruments = market.table(
  'instruments',
  {
    symbol: text('symbol').primaryKey(),
    name: text('name').notNull(),
    assetClass: text('asset_class', { enum: ASSET_CLASSES }).notNull(),
    currency: text('currency').notNull(),
    tickSize: numeric('tick_size').notNull(),
    lotSize: numeric('lot_size').notNull(),
    tradable: boolean('tradable').notNull().default(true),
    // Simulator parameters: starting price, annualized drift and volatility, bid/ask spread in basis points.
    basePrice: numeric('base_price').notNull(),
    drift: numeric('drift').notNull().default('0'),
    volatility: numeric('volatility').notNull(),
    spreadBps: numeric('spread_bps').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  () => [
    check('instruments_symbol_check', sql.raw(`"symbol" ~ '^[A-Z0-9._-]{1,24}$'`)),
    check('instruments_asset_class_check', sql.raw(`"asset_class" IN ('EQUITY', 'ETF', 'FX', 'CRYPTO')`)),
    check('instruments_sizes_check', sql.raw(`"tick_size" > 0 AND "lot_size" > 0 AND "base_price" > 0`)),
    check('instruments_model_check', sql.raw(`"volatility" >= 0 AND "spread_bps" >= 0`)),
  ],
);

/**
 * One OHLCV bar table per interval, all of the same shape. `pv` is the sum of price * size, so
 * VWAP = pv / volume stays exact through every roll-up; `open_ts` / `close_ts` are the times of the
 * first and last trade, which lets batches merge in any order.
 */
function barTable(name: string) {
  return market.table(
    name,
    {
      symbol: text('symbol').notNull(),
      bucket: timestamp('bucket', { withTimezone: true }).notNull(),
      open: numeric('open').notNull(),
      high: numeric('high').notNull(),
      low: numeric('low').notNull(),
      close: numeric('close').notNull(),
      volume: numeric('volume').notNull(),
      pv: numeric('pv').notNull(),
      trades: bigint('trades', { mode: 'number' }).notNull(),
      openTs: timestamp('open_ts', { withTimezone: true }).notNull(),
      closeTs: timestamp('close_ts', { withTimezone: true }).notNull(),
    },
    (t) => [primaryKey({ name: `${name}_pkey`, columns: [t.symbol, t.bucket] })],
  );
}

export const bars1m = barTable('bars_1m');
export const bars5m = barTable('bars_5m');
export const bars1h = barTable('bars_1h');
export const bars1d = barTable('bars_1d');
