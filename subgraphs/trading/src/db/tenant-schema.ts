/**
 * Tables of the `trading` tenant template. They live in every tenant schema (`t_<id>`), so they carry
 * NO schema qualifier: the generated SQL is unqualified and lands in whatever schema `search_path`
 * names when the tenants worker applies it (and queries resolve the same way inside withTenant).
 * Generate with `npx drizzle-kit generate --config subgraphs/trading/drizzle.tenant.config.ts`, then
 * check the SQL names no schema (a test in subgraphs/tenants fails on `"public".`).
 */
import { bigserial, char, index, numeric, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

export const accounts = pgTable('accounts', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull(),
  currency: char('currency', { length: 3 }).notNull().default('USD'),
  cash: numeric('cash', { precision: 20, scale: 4 }).notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

export const cashLedger = pgTable(
  'cash_ledger',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    // deposit, withdrawal, trade, fee... (the trading subgraph owns the vocabulary)
    kind: text('kind').notNull(),
    amount: numeric('amount', { precision: 20, scale: 4 }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('cash_ledger_account_idx').on(t.accountId, t.createdAt)],
);

export type AccountRow = typeof accounts.$inferSelect;
export type CashLedgerRow = typeof cashLedger.$inferSelect;
