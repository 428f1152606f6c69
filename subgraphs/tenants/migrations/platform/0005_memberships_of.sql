-- A user's memberships with their tenants (or the one in a given tenant), most recently joined first:
-- the reads behind `me { memberships { tenant } }`, the tenants subgraph's hottest, and behind
-- `tenants` and `tenant(id)` for members (TenantRepository membershipsOf, listForUser, findForMember).
--
-- In a PL/pgSQL function so that each database connection plans the query once and keeps the plan:
-- sent as a statement, the join and the row-level-security policies it expands into (memberships_read,
-- and tenants_read with its EXISTS on memberships) were planned anew on every read, over half of
-- PostgreSQL's CPU for it (BENCHMARKS.md, "Membership reads planned once per connection"). Named
-- prepared statements would cache the plan too, but PgBouncer's transaction pooling does not carry
-- them (docs/cluster.md); a function's plan lives in the server connection, whoever borrows it.
--
-- SECURITY INVOKER (the default): the caller's policies apply inside, so a user scope sees exactly
-- what the same SELECT would show it. Whole rows are returned, so the result follows the tables'
-- columns without this function changing. EXECUTE goes to the app role only (grantExecute).
CREATE FUNCTION "tenancy"."memberships_of"("p_user_id" uuid, "p_tenant_id" uuid DEFAULT NULL)
RETURNS TABLE ("tenant" "tenancy"."tenants", "membership" "tenancy"."memberships")
LANGUAGE plpgsql STABLE SECURITY INVOKER AS $$
BEGIN
  RETURN QUERY
    SELECT t, m
    FROM "tenancy"."memberships" m
    INNER JOIN "tenancy"."tenants" t ON t."id" = m."tenant_id"
    WHERE m."user_id" = "p_user_id"
      AND ("p_tenant_id" IS NULL OR m."tenant_id" = "p_tenant_id")
    ORDER BY m."created_at" DESC, t."id" ASC;
END
$$;
--> statement-breakpoint
REVOKE EXECUTE ON FUNCTION "tenancy"."memberships_of"(uuid, uuid) FROM PUBLIC;
