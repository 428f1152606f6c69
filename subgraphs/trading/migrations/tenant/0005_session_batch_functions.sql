-- The account session's two functions, for group-committed placements (custom migration: drizzle-kit
-- does not model functions). A function keeps its statements' plans per connection, and a plan made
-- while a tenant's tables were empty is kept after they grew: on an empty `orders`, a lookup by
-- (account_id, client_order_id) or by (id, account_id) is planned through orders_account_created_idx,
-- which then scans the account's whole history, and a lookup by id alone as a seq scan. So the
-- statements on growing tables here reach rows only through a primary key (orders by id, the account's
-- own rows by account_id) with seq scans off, and the one lookup that needs the (account_id,
-- client_order_id) index is planned afresh on each call (EXECUTE).
--
-- Open quantities start from the orders that are open now; from here on the session keeps them.
INSERT INTO open_quantities (account_id, symbol, buy, sell)
SELECT account_id, symbol,
       coalesce(sum(quantity - filled_quantity) FILTER (WHERE side = 'BUY'), 0),
       coalesce(sum(quantity - filled_quantity) FILTER (WHERE side = 'SELL'), 0)
  FROM orders WHERE status IN ('NEW', 'PARTIALLY_FILLED')
 GROUP BY account_id, symbol;
--> statement-breakpoint
DROP FUNCTION trading_open_session(uuid, boolean, text, text, uuid, uuid[]);
--> statement-breakpoint
-- Locks the account row (or only reads it, for dry runs), then reads what the session needs: positions,
-- open quantities, risk limits, the ids of the given clientOrderIds already used in the account
-- ('existing': {clientOrderId: orderId}), and the given orders (locked, oldest first). PL/pgSQL takes a
-- new snapshot for each statement (READ COMMITTED), so the reads after the lock see everything committed
-- before the lock was granted. Numerics are returned as text (JSON numbers would be floats).
-- SECURITY INVOKER (the default): it runs as the tenant role, on the tables search_path names.
CREATE FUNCTION trading_open_session(
  p_account uuid,
  p_lock boolean,
  p_client_order_ids text[],
  p_orders uuid[]
) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
  v_account json;
  v_existing jsonb := '{}'::jsonb;
  v_orders jsonb := '[]'::jsonb;
BEGIN
  IF p_lock THEN
    SELECT row_to_json(a) INTO v_account FROM (
      SELECT id, name, currency, cash::text AS cash, created_at, reserved::text AS reserved, trading_state,
             trading_state_reason, rate_window_start, rate_window_count, day_start_date::text AS day_start_date,
             day_start_equity::text AS day_start_equity, updated_at
        FROM accounts WHERE id = p_account FOR UPDATE) a;
  ELSE
    SELECT row_to_json(a) INTO v_account FROM (
      SELECT id, name, currency, cash::text AS cash, created_at, reserved::text AS reserved, trading_state,
             trading_state_reason, rate_window_start, rate_window_count, day_start_date::text AS day_start_date,
             day_start_equity::text AS day_start_equity, updated_at
        FROM accounts WHERE id = p_account) a;
  END IF;
  IF v_account IS NULL THEN
    RETURN NULL;
  END IF;
  IF cardinality(p_client_order_ids) > 0 THEN
    EXECUTE 'SELECT coalesce(jsonb_object_agg(client_order_id, id), ''{}''::jsonb) FROM orders
              WHERE account_id = $1 AND client_order_id = ANY($2)'
      INTO v_existing USING p_account, p_client_order_ids;
  END IF;
  -- The given orders, locked through the primary key (the only index a lookup by id alone can use;
  -- seq scans are off in this function), oldest first, then kept when they are the account's.
  IF cardinality(p_orders) > 0 THEN
    SELECT coalesce(jsonb_agg(to_jsonb(o)) FILTER (WHERE o.account_id = p_account), '[]'::jsonb)
      INTO v_orders FROM (
      SELECT id, account_id, client_order_id, symbol, side, type, time_in_force, quantity::text AS quantity,
             limit_price::text AS limit_price, stop_price::text AS stop_price, status,
             filled_quantity::text AS filled_quantity, average_fill_price::text AS average_fill_price, triggered,
             reserve_price::text AS reserve_price, reserve_units::text AS reserve_units,
             reserved_amount::text AS reserved_amount, reject_reason, reject_message, replaces_order_id,
             replaced_by_order_id, expires_at, last_tick_ts, last_tick_seq, created_at, updated_at
        FROM orders WHERE id = ANY(p_orders)
       ORDER BY created_at, id
         FOR UPDATE) o;
  END IF;
  RETURN json_build_object(
    'account', v_account,
    'positions', (SELECT coalesce(json_agg(json_build_object(
        'symbol', symbol, 'quantity', quantity::text, 'averagePrice', average_price::text,
        'realizedPnl', realized_pnl::text, 'updatedAt', updated_at)), '[]'::json)
      FROM positions WHERE account_id = p_account),
    'open', (SELECT coalesce(json_object_agg(symbol, json_build_object('buy', buy::text, 'sell', sell::text)), '{}'::json)
      FROM open_quantities WHERE account_id = p_account),
    'limits', (SELECT json_build_object(
        'maxOrderQuantity', max_order_quantity::text, 'minOrderQuantity', min_order_quantity::text,
        'maxOrderNotional', max_order_notional::text, 'maxPositionQuantity', max_position_quantity::text,
        'maxGrossExposure', max_gross_exposure::text, 'priceCollarPct', price_collar_pct::text,
        'allowShortSelling', allow_short_selling, 'maxOrdersPerMinute', max_orders_per_minute,
        'dailyLossLimit', daily_loss_limit::text, 'updatedAt', updated_at, 'updatedBy', updated_by)
      FROM risk_limits WHERE account_id = p_account),
    'existing', v_existing,
    'orders', v_orders
  );
END;
$$ SET enable_seqscan = off;
--> statement-breakpoint
-- Writes everything an account's session changed, from one JSON document (snake_case keys, numerics as
-- strings), so the whole write is one short call with cached plans. Orders are inserted first, so
-- events and executions may reference them. A clientOrderId the account already used fails the call
-- (unique_violation on orders_client_order_id_unique): never expected under the account lock, and
-- nothing of the transaction is kept then.
CREATE FUNCTION trading_flush_session(p_doc jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_account uuid := (p_doc->>'accountId')::uuid;
  v_owner uuid;
  r_changed record;
BEGIN
  INSERT INTO orders (id, account_id, client_order_id, symbol, side, type, time_in_force, quantity, limit_price,
    stop_price, status, filled_quantity, average_fill_price, triggered, reserve_price, reserve_units,
    reserved_amount, reject_reason, reject_message, replaces_order_id, replaced_by_order_id, expires_at,
    last_tick_ts, last_tick_seq, created_at, updated_at)
  SELECT v.* FROM jsonb_to_recordset(p_doc->'newOrders') AS v(
    id uuid, account_id uuid, client_order_id text, symbol text, side text, type text, time_in_force text,
    quantity numeric, limit_price numeric, stop_price numeric, status text, filled_quantity numeric,
    average_fill_price numeric, triggered boolean, reserve_price numeric, reserve_units numeric,
    reserved_amount numeric, reject_reason text, reject_message text, replaces_order_id uuid,
    replaced_by_order_id uuid, expires_at timestamptz, last_tick_ts int8, last_tick_seq int8,
    created_at timestamptz, updated_at timestamptz);

  FOR r_changed IN SELECT * FROM jsonb_to_recordset(p_doc->'changedOrders') AS x(
    id uuid, status text, filled_quantity numeric, average_fill_price numeric, triggered boolean,
    reserved_amount numeric, replaced_by_order_id uuid, last_tick_ts int8, last_tick_seq int8,
    updated_at timestamptz)
  LOOP
    UPDATE orders SET status = r_changed.status, filled_quantity = r_changed.filled_quantity,
      average_fill_price = r_changed.average_fill_price, triggered = r_changed.triggered,
      reserved_amount = r_changed.reserved_amount, replaced_by_order_id = r_changed.replaced_by_order_id,
      last_tick_ts = r_changed.last_tick_ts, last_tick_seq = r_changed.last_tick_seq,
      updated_at = r_changed.updated_at
    WHERE id = r_changed.id
    RETURNING account_id INTO v_owner;
    IF v_owner IS DISTINCT FROM v_account THEN
      RAISE EXCEPTION 'order % is not an order of account %', r_changed.id, v_account;
    END IF;
  END LOOP;

  INSERT INTO executions (id, order_id, account_id, symbol, side, quantity, price, notional, fee, executed_at)
  SELECT v.id, v.order_id, v_account, v.symbol, v.side, v.quantity, v.price, v.notional, v.fee, v.executed_at
  FROM jsonb_to_recordset(p_doc->'executions') AS v(
    id uuid, order_id uuid, symbol text, side text, quantity numeric, price numeric, notional numeric,
    fee numeric, executed_at timestamptz);

  INSERT INTO order_events (order_id, account_id, type, status, reason, message, quantity, price, detail, created_at)
  SELECT v.order_id, v_account, v.type, v.status, v.reason, v.message, v.quantity, v.price, v.detail, v.created_at
  FROM ROWS FROM (jsonb_to_recordset(p_doc->'events') AS (
    order_id uuid, type text, status text, reason text, message text, quantity numeric, price numeric,
    detail jsonb, created_at timestamptz)) WITH ORDINALITY
    AS v(order_id, type, status, reason, message, quantity, price, detail, created_at, n)
  ORDER BY v.n;

  INSERT INTO cash_ledger (account_id, kind, amount, reference, created_at)
  SELECT v_account, v.kind, v.amount, v.reference, v.created_at
  FROM ROWS FROM (jsonb_to_recordset(p_doc->'ledger') AS (
    kind text, amount numeric, reference text, created_at timestamptz)) WITH ORDINALITY
    AS v(kind, amount, reference, created_at, n)
  ORDER BY v.n;

  INSERT INTO positions (account_id, symbol, quantity, average_price, realized_pnl, updated_at)
  SELECT v_account, v.symbol, v.quantity, v.average_price, v.realized_pnl, v.updated_at
  FROM jsonb_to_recordset(p_doc->'positions') AS v(
    symbol text, quantity numeric, average_price numeric, realized_pnl numeric, updated_at timestamptz)
  ON CONFLICT (account_id, symbol) DO UPDATE SET quantity = excluded.quantity,
    average_price = excluded.average_price, realized_pnl = excluded.realized_pnl, updated_at = excluded.updated_at;

  INSERT INTO open_quantities (account_id, symbol, buy, sell)
  SELECT v_account, v.symbol, v.buy, v.sell
  FROM jsonb_to_recordset(p_doc->'openQuantities') AS v(symbol text, buy numeric, sell numeric)
  ON CONFLICT (account_id, symbol) DO UPDATE SET buy = excluded.buy, sell = excluded.sell;

  IF jsonb_typeof(p_doc->'account') = 'object' THEN
    UPDATE accounts a SET cash = v.cash, reserved = v.reserved, trading_state = v.trading_state,
      trading_state_reason = v.trading_state_reason, rate_window_start = v.rate_window_start,
      rate_window_count = v.rate_window_count, day_start_date = v.day_start_date,
      day_start_equity = v.day_start_equity, updated_at = v.updated_at
    FROM jsonb_to_record(p_doc->'account') AS v(
      cash numeric, reserved numeric, trading_state text, trading_state_reason text,
      rate_window_start timestamptz, rate_window_count int, day_start_date date, day_start_equity numeric,
      updated_at timestamptz)
    WHERE a.id = v_account;
  END IF;
END;
$$;
