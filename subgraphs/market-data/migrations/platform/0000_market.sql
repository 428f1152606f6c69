-- IF NOT EXISTS: the migrator creates the schema of its record table (market.__migrations) first.
CREATE SCHEMA IF NOT EXISTS "market";
--> statement-breakpoint
CREATE TABLE "market"."bars_1d" (
	"symbol" text NOT NULL,
	"bucket" timestamp with time zone NOT NULL,
	"open" numeric NOT NULL,
	"high" numeric NOT NULL,
	"low" numeric NOT NULL,
	"close" numeric NOT NULL,
	"volume" numeric NOT NULL,
	"pv" numeric NOT NULL,
	"trades" bigint NOT NULL,
	"open_ts" timestamp with time zone NOT NULL,
	"close_ts" timestamp with time zone NOT NULL,
	CONSTRAINT "bars_1d_pkey" PRIMARY KEY("symbol","bucket")
);
--> statement-breakpoint
CREATE TABLE "market"."bars_1h" (
	"symbol" text NOT NULL,
	"bucket" timestamp with time zone NOT NULL,
	"open" numeric NOT NULL,
	"high" numeric NOT NULL,
	"low" numeric NOT NULL,
	"close" numeric NOT NULL,
	"volume" numeric NOT NULL,
	"pv" numeric NOT NULL,
	"trades" bigint NOT NULL,
	"open_ts" timestamp with time zone NOT NULL,
	"close_ts" timestamp with time zone NOT NULL,
	CONSTRAINT "bars_1h_pkey" PRIMARY KEY("symbol","bucket")
);
--> statement-breakpoint
CREATE TABLE "market"."bars_1m" (
	"symbol" text NOT NULL,
	"bucket" timestamp with time zone NOT NULL,
	"open" numeric NOT NULL,
	"high" numeric NOT NULL,
	"low" numeric NOT NULL,
	"close" numeric NOT NULL,
	"volume" numeric NOT NULL,
	"pv" numeric NOT NULL,
	"trades" bigint NOT NULL,
	"open_ts" timestamp with time zone NOT NULL,
	"close_ts" timestamp with time zone NOT NULL,
	CONSTRAINT "bars_1m_pkey" PRIMARY KEY("symbol","bucket")
);
--> statement-breakpoint
CREATE TABLE "market"."bars_5m" (
	"symbol" text NOT NULL,
	"bucket" timestamp with time zone NOT NULL,
	"open" numeric NOT NULL,
	"high" numeric NOT NULL,
	"low" numeric NOT NULL,
	"close" numeric NOT NULL,
	"volume" numeric NOT NULL,
	"pv" numeric NOT NULL,
	"trades" bigint NOT NULL,
	"open_ts" timestamp with time zone NOT NULL,
	"close_ts" timestamp with time zone NOT NULL,
	CONSTRAINT "bars_5m_pkey" PRIMARY KEY("symbol","bucket")
);
--> statement-breakpoint
CREATE TABLE "market"."instruments" (
	"symbol" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"asset_class" text NOT NULL,
	"currency" text NOT NULL,
	"tick_size" numeric NOT NULL,
	"lot_size" numeric NOT NULL,
	"tradable" boolean DEFAULT true NOT NULL,
	"base_price" numeric NOT NULL,
	"drift" numeric DEFAULT '0' NOT NULL,
	"volatility" numeric NOT NULL,
	"spread_bps" numeric NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "instruments_symbol_check" CHECK ("symbol" ~ '^[A-Z0-9._-]{1,24}$'),
	CONSTRAINT "instruments_asset_class_check" CHECK ("asset_class" IN ('EQUITY', 'ETF', 'FX', 'CRYPTO')),
	CONSTRAINT "instruments_sizes_check" CHECK ("tick_size" > 0 AND "lot_size" > 0 AND "base_price" > 0),
	CONSTRAINT "instruments_model_check" CHECK ("volatility" >= 0 AND "spread_bps" >= 0)
);
