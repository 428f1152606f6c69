ALTER TABLE "tenancy"."backups" ALTER COLUMN "status" SET DEFAULT 'QUEUED';--> statement-breakpoint
ALTER TABLE "tenancy"."backups" ADD COLUMN "progress" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "tenancy"."backups" ADD COLUMN "job_id" text;--> statement-breakpoint
ALTER TABLE "tenancy"."backups" ADD COLUMN "attempts" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "tenancy"."backups" ADD COLUMN "key_id" text;--> statement-breakpoint
ALTER TABLE "tenancy"."backups" ADD COLUMN "gzip_level" integer;--> statement-breakpoint
ALTER TABLE "tenancy"."backups" ADD COLUMN "dump_bytes" bigint;--> statement-breakpoint
ALTER TABLE "tenancy"."backups" ADD COLUMN "row_counts" jsonb;--> statement-breakpoint
ALTER TABLE "tenancy"."backups" ADD COLUMN "verified_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "tenancy"."backups" ADD COLUMN "pruned_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "backups_status_idx" ON "tenancy"."backups" USING btree ("status","tenant_id");--> statement-breakpoint
ALTER TABLE "tenancy"."backups" ADD CONSTRAINT "backups_status_check" CHECK ("status" IN ('QUEUED', 'RUNNING', 'VERIFIED', 'FAILED', 'PRUNED'));--> statement-breakpoint
ALTER TABLE "tenancy"."backups" ADD CONSTRAINT "backups_progress_check" CHECK ("progress" BETWEEN 0 AND 100);