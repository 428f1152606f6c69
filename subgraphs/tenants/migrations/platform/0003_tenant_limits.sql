ALTER TABLE "tenancy"."tenants" ADD COLUMN "requests_per_minute" integer;--> statement-breakpoint
ALTER TABLE "tenancy"."tenants" ADD COLUMN "requests_per_minute_per_user" integer;--> statement-breakpoint
ALTER TABLE "tenancy"."tenants" ADD COLUMN "cost_per_minute" integer;--> statement-breakpoint
ALTER TABLE "tenancy"."tenants" ADD CONSTRAINT "tenants_requests_per_minute_check" CHECK ("requests_per_minute" > 0);--> statement-breakpoint
ALTER TABLE "tenancy"."tenants" ADD CONSTRAINT "tenants_requests_per_minute_per_user_check" CHECK ("requests_per_minute_per_user" > 0);--> statement-breakpoint
ALTER TABLE "tenancy"."tenants" ADD CONSTRAINT "tenants_cost_per_minute_check" CHECK ("cost_per_minute" > 0);