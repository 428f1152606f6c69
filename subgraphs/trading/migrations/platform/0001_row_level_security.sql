-- Row-level security on the trading directory (custom migration: drizzle-kit does not model these).
-- Only system work (the execution engine, with lib/db withPlatform { kind: 'system' }) reads or writes
-- it: no tenant or user scope has a reason to see which other tenants trade. FORCE applies the policy
-- to the table's owner too.
ALTER TABLE "trading"."order_book_tenants" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "trading"."order_book_tenants" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY "order_book_tenants_system" ON "trading"."order_book_tenants" FOR ALL
  USING (current_setting('app.system', true) = 'on')
  WITH CHECK (current_setting('app.system', true) = 'on');
