-- IF NOT EXISTS: the migrator creates the schema of its record table (tenancy.__migrations) first.
CREATE SCHEMA IF NOT EXISTS "tenancy";
--> statement-breakpoint
CREATE TABLE "tenancy"."backups" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"type" text NOT NULL,
	"status" text NOT NULL,
	"path" text,
	"size_bytes" bigint,
	"sha256" text,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone,
	"error" text,
	CONSTRAINT "backups_type_check" CHECK ("type" IN ('MANUAL', 'SCHEDULED', 'INITIAL'))
);
--> statement-breakpoint
CREATE TABLE "tenancy"."memberships" (
	"tenant_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"role" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "memberships_pkey" PRIMARY KEY("tenant_id","user_id"),
	CONSTRAINT "memberships_role_check" CHECK ("role" IN ('OWNER', 'ADMIN', 'TRADER', 'VIEWER'))
);
--> statement-breakpoint
CREATE TABLE "tenancy"."tenants" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"organization_name" text NOT NULL,
	"template" text NOT NULL,
	"status" text DEFAULT 'PROVISIONING' NOT NULL,
	"schema_name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"provisioned_at" timestamp with time zone,
	"last_error" text,
	CONSTRAINT "tenants_schema_name_unique" UNIQUE("schema_name"),
	CONSTRAINT "tenants_status_check" CHECK ("status" IN ('PROVISIONING', 'ACTIVE', 'FAILED', 'SUSPENDED'))
);
--> statement-breakpoint
ALTER TABLE "tenancy"."backups" ADD CONSTRAINT "backups_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "tenancy"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tenancy"."memberships" ADD CONSTRAINT "memberships_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "tenancy"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "backups_tenant_started_idx" ON "tenancy"."backups" USING btree ("tenant_id","started_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "memberships_user_idx" ON "tenancy"."memberships" USING btree ("user_id","created_at");--> statement-breakpoint
CREATE INDEX "tenants_status_idx" ON "tenancy"."tenants" USING btree ("status");