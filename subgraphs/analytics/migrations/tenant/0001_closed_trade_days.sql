CREATE TABLE "closed_trade_days" (
	"account_id" uuid NOT NULL,
	"day" date NOT NULL,
	"trades" integer NOT NULL,
	"wins" integer NOT NULL,
	"losses" integer NOT NULL,
	"gross_profit" numeric NOT NULL,
	"gross_loss" numeric NOT NULL,
	"holding_seconds" numeric NOT NULL,
	CONSTRAINT "closed_trade_days_account_id_day_pk" PRIMARY KEY("account_id","day")
);
--> statement-breakpoint
-- Existing round trips, then triggers keeping the per-day sums in step with closed_trades (written by
-- hand: drizzle-kit has no triggers). Statement-level with transition tables, so a bulk insert costs
-- one grouped upsert. The function names closed_trade_days in the schema of the table that fired it
-- (TG_TABLE_SCHEMA), whatever the caller's search_path.
INSERT INTO "closed_trade_days" ("account_id", "day", "trades", "wins", "losses", "gross_profit", "gross_loss", "holding_seconds")
SELECT "account_id", ("closed_at" AT TIME ZONE 'UTC')::date, count(*), count(*) FILTER (WHERE "pnl" > 0), count(*) FILTER (WHERE "pnl" < 0),
       coalesce(sum("pnl") FILTER (WHERE "pnl" > 0), 0), coalesce(sum("pnl") FILTER (WHERE "pnl" < 0), 0),
       coalesce(sum(extract(epoch FROM "closed_at" - "opened_at")), 0)
  FROM "closed_trades" GROUP BY 1, 2;
--> statement-breakpoint
CREATE FUNCTION "closed_trade_days_apply"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  days text := format('%I.closed_trade_days', TG_TABLE_SCHEMA);
  -- Sums of a transition table by account and UTC day, added (sign 1) or taken away (sign -1).
  upsert text := 'INSERT INTO %s AS d (account_id, day, trades, wins, losses, gross_profit, gross_loss, holding_seconds)
    SELECT account_id, (closed_at AT TIME ZONE ''UTC'')::date, %s * count(*), %s * count(*) FILTER (WHERE pnl > 0),
           %s * count(*) FILTER (WHERE pnl < 0), %s * coalesce(sum(pnl) FILTER (WHERE pnl > 0), 0),
           %s * coalesce(sum(pnl) FILTER (WHERE pnl < 0), 0), %s * coalesce(sum(extract(epoch FROM closed_at - opened_at)), 0)
      FROM %s GROUP BY 1, 2
    ON CONFLICT (account_id, day) DO UPDATE SET
      trades = d.trades + EXCLUDED.trades, wins = d.wins + EXCLUDED.wins, losses = d.losses + EXCLUDED.losses,
      gross_profit = d.gross_profit + EXCLUDED.gross_profit, gross_loss = d.gross_loss + EXCLUDED.gross_loss,
      holding_seconds = d.holding_seconds + EXCLUDED.holding_seconds';
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    EXECUTE format('DELETE FROM %s', days);
    RETURN NULL;
  END IF;
  IF TG_OP IN ('DELETE', 'UPDATE') THEN
    EXECUTE format(upsert, days, -1, -1, -1, -1, -1, -1, 'old_rows');
    EXECUTE format('DELETE FROM %s d USING (SELECT DISTINCT account_id FROM old_rows) o
                     WHERE d.account_id = o.account_id AND d.trades = 0', days);
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    EXECUTE format(upsert, days, 1, 1, 1, 1, 1, 1, 'new_rows');
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "closed_trade_days_insert" AFTER INSERT ON "closed_trades" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "closed_trade_days_apply"();
--> statement-breakpoint
CREATE TRIGGER "closed_trade_days_update" AFTER UPDATE ON "closed_trades" REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "closed_trade_days_apply"();
--> statement-breakpoint
CREATE TRIGGER "closed_trade_days_delete" AFTER DELETE ON "closed_trades" REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION "closed_trade_days_apply"();
--> statement-breakpoint
CREATE TRIGGER "closed_trade_days_truncate" AFTER TRUNCATE ON "closed_trades" FOR EACH STATEMENT EXECUTE FUNCTION "closed_trade_days_apply"();
