CREATE TABLE "applied_trades" (
	"trade_id" text PRIMARY KEY NOT NULL,
	"account_id" uuid NOT NULL,
	"executed_at" timestamp with time zone NOT NULL,
	"applied_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "closed_trades" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"account_id" uuid NOT NULL,
	"symbol" text NOT NULL,
	"direction" text NOT NULL,
	"quantity" numeric(28, 10) NOT NULL,
	"entry_price" numeric(28, 10) NOT NULL,
	"exit_price" numeric(28, 10) NOT NULL,
	"pnl" numeric(20, 4) NOT NULL,
	"opened_at" timestamp with time zone NOT NULL,
	"closed_at" timestamp with time zone NOT NULL,
	"trade_id" text NOT NULL,
	CONSTRAINT "closed_trades_direction_check" CHECK ("direction" IN ('LONG', 'SHORT'))
);
--> statement-breakpoint
CREATE TABLE "dashboards" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"owner_user_id" uuid NOT NULL,
	"name" text NOT NULL,
	"widgets" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"shared" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "dashboards_version_positive" CHECK ("dashboards"."version" > 0)
);
--> statement-breakpoint
CREATE TABLE "equity_snapshots" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"account_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"snapshot_day" date NOT NULL,
	"equity" numeric(20, 4) NOT NULL,
	"cash" numeric(20, 4) NOT NULL,
	"positions_value" numeric(20, 4) DEFAULT '0' NOT NULL,
	"external_flow" numeric(20, 4) DEFAULT '0' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "equity_snapshots_kind_check" CHECK ("kind" IN ('daily', 'intraday'))
);
--> statement-breakpoint
CREATE TABLE "trade_lots" (
	"account_id" uuid NOT NULL,
	"symbol" text NOT NULL,
	"quantity" numeric(28, 10) NOT NULL,
	"average_price" numeric(28, 10) NOT NULL,
	"opened_at" timestamp with time zone NOT NULL,
	CONSTRAINT "trade_lots_account_id_symbol_pk" PRIMARY KEY("account_id","symbol")
);
--> statement-breakpoint
CREATE INDEX "applied_trades_account_idx" ON "applied_trades" USING btree ("account_id","executed_at");--> statement-breakpoint
CREATE INDEX "closed_trades_account_closed_idx" ON "closed_trades" USING btree ("account_id","closed_at");--> statement-breakpoint
CREATE INDEX "dashboards_owner_idx" ON "dashboards" USING btree ("owner_user_id","updated_at");--> statement-breakpoint
CREATE INDEX "dashboards_shared_idx" ON "dashboards" USING btree ("updated_at") WHERE "dashboards"."shared";--> statement-breakpoint
CREATE INDEX "equity_snapshots_account_kind_at_idx" ON "equity_snapshots" USING btree ("account_id","kind","at");--> statement-breakpoint
CREATE UNIQUE INDEX "equity_snapshots_daily_unique" ON "equity_snapshots" USING btree ("account_id","snapshot_day") WHERE "equity_snapshots"."kind" = 'daily';