CREATE TABLE "open_quantities" (
	"account_id" uuid NOT NULL,
	"symbol" text NOT NULL,
	"buy" numeric(28, 10) DEFAULT '0' NOT NULL,
	"sell" numeric(28, 10) DEFAULT '0' NOT NULL,
	CONSTRAINT "open_quantities_account_id_symbol_pk" PRIMARY KEY("account_id","symbol"),
	CONSTRAINT "open_quantities_nonnegative" CHECK ("open_quantities"."buy" >= 0 AND "open_quantities"."sell" >= 0)
);
--> statement-breakpoint
ALTER TABLE "open_quantities" ADD CONSTRAINT "open_quantities_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE no action ON UPDATE no action;