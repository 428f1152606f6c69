-- Append-only history (custom migration: drizzle-kit does not model triggers). The order-event log,
-- the executions and the cash ledger are facts: they are written once and never rewritten. Grants
-- cannot say so (the tenants worker re-grants DML on every table after each migration run, and the
-- tenant role needs INSERT), so a trigger refuses UPDATE, DELETE and TRUNCATE for everyone, the
-- owner role included. Created unqualified: it lands in the tenant schema like the tables.
CREATE FUNCTION trading_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER order_events_append_only BEFORE UPDATE OR DELETE ON order_events
  FOR EACH ROW EXECUTE FUNCTION trading_append_only();
--> statement-breakpoint
CREATE TRIGGER order_events_no_truncate BEFORE TRUNCATE ON order_events
  FOR EACH STATEMENT EXECUTE FUNCTION trading_append_only();
--> statement-breakpoint
CREATE TRIGGER executions_append_only BEFORE UPDATE OR DELETE ON executions
  FOR EACH ROW EXECUTE FUNCTION trading_append_only();
--> statement-breakpoint
CREATE TRIGGER executions_no_truncate BEFORE TRUNCATE ON executions
  FOR EACH STATEMENT EXECUTE FUNCTION trading_append_only();
--> statement-breakpoint
CREATE TRIGGER cash_ledger_append_only BEFORE UPDATE OR DELETE ON cash_ledger
  FOR EACH ROW EXECUTE FUNCTION trading_append_only();
--> statement-breakpoint
CREATE TRIGGER cash_ledger_no_truncate BEFORE TRUNCATE ON cash_ledger
  FOR EACH STATEMENT EXECUTE FUNCTION trading_append_only();
