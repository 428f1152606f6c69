CREATE TABLE "executions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"order_id" uuid NOT NULL,
	"account_id" uuid NOT NULL,
	"symbol" text NOT NULL,
	"side" text NOT NULL,
	"quantity" numeric(28, 10) NOT NULL,
	"price" numeric(28, 10) NOT NULL,
	"notional" numeric(20, 4) NOT NULL,
	"fee" numeric(20, 4) DEFAULT '0' NOT NULL,
	"executed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "executions_quantity_positive" CHECK ("executions"."quantity" > 0)
);
--> statement-breakpoint
CREATE TABLE "order_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"order_id" uuid NOT NULL,
	"account_id" uuid NOT NULL,
	"type" text NOT NULL,
	"status" text NOT NULL,
	"reason" text,
	"message" text,
	"quantity" numeric(28, 10),
	"price" numeric(28, 10),
	"detail" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "order_events_type_check" CHECK ("type" IN ('ACCEPTED', 'REJECTED', 'TRIGGERED', 'PARTIALLY_FILLED', 'FILLED', 'CANCELED', 'EXPIRED', 'REPLACED'))
);
--> statement-breakpoint
CREATE TABLE "orders" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"account_id" uuid NOT NULL,
	"client_order_id" text NOT NULL,
	"symbol" text NOT NULL,
	"side" text NOT NULL,
	"type" text NOT NULL,
	"time_in_force" text NOT NULL,
	"quantity" numeric(28, 10) NOT NULL,
	"limit_price" numeric(28, 10),
	"stop_price" numeric(28, 10),
	"status" text NOT NULL,
	"filled_quantity" numeric(28, 10) DEFAULT '0' NOT NULL,
	"average_fill_price" numeric(28, 10),
	"triggered" boolean DEFAULT false NOT NULL,
	"reserve_price" numeric(28, 10) DEFAULT '0' NOT NULL,
	"reserve_units" numeric(28, 10) DEFAULT '0' NOT NULL,
	"reserved_amount" numeric(20, 4) DEFAULT '0' NOT NULL,
	"reject_reason" text,
	"reject_message" text,
	"replaces_order_id" uuid,
	"replaced_by_order_id" uuid,
	"expires_at" timestamp with time zone,
	"last_tick_ts" bigint,
	"last_tick_seq" bigint,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "orders_side_check" CHECK ("side" IN ('BUY', 'SELL')),
	CONSTRAINT "orders_type_check" CHECK ("type" IN ('MARKET', 'LIMIT', 'STOP', 'STOP_LIMIT')),
	CONSTRAINT "orders_tif_check" CHECK ("time_in_force" IN ('DAY', 'GTC', 'IOC', 'FOK')),
	CONSTRAINT "orders_status_check" CHECK ("status" IN ('NEW', 'PARTIALLY_FILLED', 'FILLED', 'CANCELED', 'REJECTED', 'EXPIRED')),
	CONSTRAINT "orders_quantity_positive" CHECK ("orders"."quantity" > 0),
	CONSTRAINT "orders_filled_bounds" CHECK ("orders"."filled_quantity" >= 0 AND "orders"."filled_quantity" <= "orders"."quantity"),
	CONSTRAINT "orders_reserved_nonnegative" CHECK ("orders"."reserved_amount" >= 0)
);
--> statement-breakpoint
CREATE TABLE "positions" (
	"account_id" uuid NOT NULL,
	"symbol" text NOT NULL,
	"quantity" numeric(28, 10) DEFAULT '0' NOT NULL,
	"average_price" numeric(28, 10) DEFAULT '0' NOT NULL,
	"realized_pnl" numeric(20, 4) DEFAULT '0' NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "positions_account_id_symbol_pk" PRIMARY KEY("account_id","symbol")
);
--> statement-breakpoint
CREATE TABLE "risk_limits" (
	"account_id" uuid PRIMARY KEY NOT NULL,
	"max_order_quantity" numeric(28, 10),
	"min_order_quantity" numeric(28, 10),
	"max_order_notional" numeric(20, 4),
	"max_position_quantity" numeric(28, 10),
	"max_gross_exposure" numeric(20, 4),
	"price_collar_pct" numeric(10, 6),
	"allow_short_selling" boolean DEFAULT false NOT NULL,
	"max_orders_per_minute" integer,
	"daily_loss_limit" numeric(20, 4),
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_by" uuid
);
--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "reserved" numeric(20, 4) DEFAULT '0' NOT NULL;--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "trading_state" text DEFAULT 'ACTIVE' NOT NULL;--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "trading_state_reason" text;--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "rate_window_start" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "rate_window_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "day_start_date" date;--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "day_start_equity" numeric(20, 4);--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "updated_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
ALTER TABLE "cash_ledger" ADD COLUMN "reference" text;--> statement-breakpoint
ALTER TABLE "executions" ADD CONSTRAINT "executions_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "orders"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "executions" ADD CONSTRAINT "executions_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "order_events" ADD CONSTRAINT "order_events_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "orders"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "orders" ADD CONSTRAINT "orders_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "positions" ADD CONSTRAINT "positions_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "risk_limits" ADD CONSTRAINT "risk_limits_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "executions_account_idx" ON "executions" USING btree ("account_id","executed_at");--> statement-breakpoint
CREATE INDEX "executions_order_idx" ON "executions" USING btree ("order_id");--> statement-breakpoint
CREATE INDEX "order_events_order_idx" ON "order_events" USING btree ("order_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "orders_client_order_id_unique" ON "orders" USING btree ("account_id","client_order_id");--> statement-breakpoint
CREATE INDEX "orders_account_created_idx" ON "orders" USING btree ("account_id","created_at");--> statement-breakpoint
CREATE INDEX "orders_open_symbol_idx" ON "orders" USING btree ("symbol","account_id") WHERE "orders"."status" IN ('NEW', 'PARTIALLY_FILLED');--> statement-breakpoint
CREATE UNIQUE INDEX "cash_ledger_reference_unique" ON "cash_ledger" USING btree ("account_id","kind","reference") WHERE "cash_ledger"."reference" IS NOT NULL;--> statement-breakpoint
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_trading_state_check" CHECK ("trading_state" IN ('ACTIVE', 'REDUCING', 'HALTED'));--> statement-breakpoint
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_cash_nonnegative" CHECK ("accounts"."cash" >= 0);--> statement-breakpoint
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_reserved_nonnegative" CHECK ("accounts"."reserved" >= 0);