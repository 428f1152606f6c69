CREATE TABLE "tenancy"."schema_pool" (
	"name" text PRIMARY KEY NOT NULL,
	"template" text NOT NULL,
	"ready" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "schema_pool_name_check" CHECK ("name" ~ '^pool_[0-9a-f]{16}$')
);
--> statement-breakpoint
CREATE INDEX "schema_pool_ready_idx" ON "tenancy"."schema_pool" USING btree ("template","ready","created_at");--> statement-breakpoint
-- Custom part (drizzle-kit does not model it): row-level security enabled but not forced, with no
-- policy. The owner role (the table's owner, which builds and claims pool entries) is not subject to
-- it; the app role, which db-bootstrap grants on every tenancy table, sees and changes no row.
ALTER TABLE "tenancy"."schema_pool" ENABLE ROW LEVEL SECURITY;
