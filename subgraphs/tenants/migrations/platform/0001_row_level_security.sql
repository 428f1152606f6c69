-- Row-level security on every tenancy table (custom migration: drizzle-kit does not model these).
--
-- Scopes are transaction-local settings written by lib/db withPlatform / withTenant:
--   app.system    'on' for workers and platform administrators: every row
--   app.tenant_id a tenant id: that tenant's rows (and writes to them)
--   app.user_id   a user id: that user's memberships and the tenants (and backups) they belong to
-- current_setting(..., true) is NULL when a setting was never written, and '' after a scope ended;
-- NULLIF(..., '')::uuid turns both into NULL, which matches nothing. So a connection that set no scope
-- sees no row at all. FORCE applies the policies to the tables' owner too (only superusers and
-- BYPASSRLS roles escape them; the app role is neither).

ALTER TABLE "tenancy"."tenants" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "tenancy"."tenants" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "tenancy"."memberships" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "tenancy"."memberships" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "tenancy"."backups" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "tenancy"."backups" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint

-- memberships: a tenant scope sees and manages its own tenant's memberships; a user scope sees the
-- user's own memberships (read only: joining a tenant is a write in that tenant's scope).
CREATE POLICY "memberships_read" ON "tenancy"."memberships" FOR SELECT USING (
  current_setting('app.system', true) = 'on'
  OR "tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid
  OR "user_id" = NULLIF(current_setting('app.user_id', true), '')::uuid
);
--> statement-breakpoint
CREATE POLICY "memberships_insert" ON "tenancy"."memberships" FOR INSERT WITH CHECK (
  current_setting('app.system', true) = 'on'
  OR "tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid
);
--> statement-breakpoint
CREATE POLICY "memberships_update" ON "tenancy"."memberships" FOR UPDATE USING (
  current_setting('app.system', true) = 'on'
  OR "tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid
) WITH CHECK (
  current_setting('app.system', true) = 'on'
  OR "tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid
);
--> statement-breakpoint
CREATE POLICY "memberships_delete" ON "tenancy"."memberships" FOR DELETE USING (
  current_setting('app.system', true) = 'on'
  OR "tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid
);
--> statement-breakpoint

-- tenants: the row's id is the tenant id. Readable by the system, by its own tenant scope, and by
-- users holding a membership (the EXISTS runs under the memberships policy above, which lets a user
-- scope see exactly its own memberships). A tenant scope may create and update its own row only;
-- deleting a tenant is system work.
CREATE POLICY "tenants_read" ON "tenancy"."tenants" FOR SELECT USING (
  current_setting('app.system', true) = 'on'
  OR "id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid
  OR EXISTS (
    SELECT 1 FROM "tenancy"."memberships" m
    WHERE m."tenant_id" = "tenants"."id"
      AND m."user_id" = NULLIF(current_setting('app.user_id', true), '')::uuid
  )
);
--> statement-breakpoint
CREATE POLICY "tenants_insert" ON "tenancy"."tenants" FOR INSERT WITH CHECK (
  current_setting('app.system', true) = 'on'
  OR "id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid
);
--> statement-breakpoint
CREATE POLICY "tenants_update" ON "tenancy"."tenants" FOR UPDATE USING (
  current_setting('app.system', true) = 'on'
  OR "id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid
) WITH CHECK (
  current_setting('app.system', true) = 'on'
  OR "id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid
);
--> statement-breakpoint
CREATE POLICY "tenants_delete" ON "tenancy"."tenants" FOR DELETE USING (
  current_setting('app.system', true) = 'on'
);
--> statement-breakpoint

-- backups: like memberships, plus read access for members of the tenant (Tenant.backups).
CREATE POLICY "backups_read" ON "tenancy"."backups" FOR SELECT USING (
  current_setting('app.system', true) = 'on'
  OR "tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid
  OR EXISTS (
    SELECT 1 FROM "tenancy"."memberships" m
    WHERE m."tenant_id" = "backups"."tenant_id"
      AND m."user_id" = NULLIF(current_setting('app.user_id', true), '')::uuid
  )
);
--> statement-breakpoint
CREATE POLICY "backups_write" ON "tenancy"."backups" FOR ALL USING (
  current_setting('app.system', true) = 'on'
  OR "tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid
) WITH CHECK (
  current_setting('app.system', true) = 'on'
  OR "tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid
);
