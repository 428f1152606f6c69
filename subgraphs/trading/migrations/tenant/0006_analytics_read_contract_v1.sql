-- Trading's read contract v1 (docs/adr/0002-analytics-reads-trading-views.md): the only relations of
-- trading another subgraph may name. Columns are added, never changed or removed, within v1; a
-- breaking change ships as *_v2 next to v1 until every reader has moved. security_invoker: a reader
-- sees the rows its own role may see. Writes through the views are refused.
CREATE VIEW "trading_accounts_v1" WITH (security_invoker = true) AS
  SELECT "id", "cash", "created_at" FROM "accounts";
--> statement-breakpoint
CREATE VIEW "trading_positions_v1" WITH (security_invoker = true) AS
  SELECT "account_id", "symbol", "quantity", "average_price" FROM "positions";
--> statement-breakpoint
CREATE VIEW "trading_cash_ledger_v1" WITH (security_invoker = true) AS
  SELECT "id", "account_id", "kind", "amount", "created_at" FROM "cash_ledger";
--> statement-breakpoint
CREATE VIEW "trading_executions_v1" WITH (security_invoker = true) AS
  SELECT "id", "account_id", "symbol", "side", "quantity", "price", "executed_at" FROM "executions";
--> statement-breakpoint
CREATE FUNCTION "trading_read_contract_is_read_only"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'trading''s read contract (%) is read-only', TG_TABLE_NAME USING ERRCODE = '42501';
END
$$;
--> statement-breakpoint
CREATE TRIGGER "read_only" INSTEAD OF INSERT OR UPDATE OR DELETE ON "trading_accounts_v1"
  FOR EACH ROW EXECUTE FUNCTION "trading_read_contract_is_read_only"();
--> statement-breakpoint
CREATE TRIGGER "read_only" INSTEAD OF INSERT OR UPDATE OR DELETE ON "trading_positions_v1"
  FOR EACH ROW EXECUTE FUNCTION "trading_read_contract_is_read_only"();
--> statement-breakpoint
CREATE TRIGGER "read_only" INSTEAD OF INSERT OR UPDATE OR DELETE ON "trading_cash_ledger_v1"
  FOR EACH ROW EXECUTE FUNCTION "trading_read_contract_is_read_only"();
--> statement-breakpoint
CREATE TRIGGER "read_only" INSTEAD OF INSERT OR UPDATE OR DELETE ON "trading_executions_v1"
  FOR EACH ROW EXECUTE FUNCTION "trading_read_contract_is_read_only"();
