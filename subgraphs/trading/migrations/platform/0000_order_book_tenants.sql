CREATE SCHEMA IF NOT EXISTS "trading";
--> statement-breakpoint
CREATE TABLE "trading"."order_book_tenants" (
	"tenant_id" uuid PRIMARY KEY NOT NULL,
	"schema_name" text NOT NULL,
	"registered_at" timestamp with time zone DEFAULT now() NOT NULL
);
