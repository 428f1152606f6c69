/**
 * Platform table of the trading subgraph, in the `trading` schema (applied by lib/db-bootstrap with the
 * other platform schemas). Tenant data lives in the tenant schemas (`tenant-schema.ts`); this is only
 * the directory the execution engine needs to rebuild its resting-order index at start: which tenants
 * have ever placed an order that could rest. Row-level security (system scope only) is added by the
 * custom migration `0001_row_level_security.sql`.
 */
import { pgSchema, text, timestamp, uuid } from 'drizzle-orm/pg-core';

export const trading = pgSchema('trading');

export const orderBookTenants = trading.table('order_book_tenants', {
  tenantId: uuid('tenant_id').primaryKey(),
  schemaName: text('schema_name').notNull(),
  registeredAt: timestamp('registered_at', { withTimezone: true }).notNull().defaultNow(),
});

export type OrderBookTenantRow = typeof orderBookTenants.$inferSelect;
