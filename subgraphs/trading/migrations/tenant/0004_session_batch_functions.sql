-- trading_open_session for a batch of submissions of one account (custom migration: drizzle-kit does
-- not model functions). Same lock and snapshot rules as 0003; what changed: the clientOrderIds and
-- symbols are arrays, so one call serves every order a group-committed transaction places. Returns
-- 'existing' as {clientOrderId: orderId} for the ids already used in the account, and 'open' as
-- {symbol: {buy, sell}}, the remaining quantity of the account's open orders per symbol and side.
DROP FUNCTION trading_open_session(uuid, boolean, text, text, uuid, uuid[]);
--> statement-breakpoint
CREATE FUNCTION trading_open_session(
  p_account uuid,
  p_lock boolean,
  p_client_order_ids text[],
  p_symbols text[],
  p_exclude uuid,
  p_orders uuid[]
) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
  v_account json;
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
  RETURN json_build_object(
    'account', v_account,
    'positions', (SELECT coalesce(json_agg(json_build_object(
        'symbol', symbol, 'quantity', quantity::text, 'averagePrice', average_price::text,
        'realizedPnl', realized_pnl::text, 'updatedAt', updated_at)), '[]'::json)
      FROM positions WHERE account_id = p_account),
    'limits', (SELECT json_build_object(
        'maxOrderQuantity', max_order_quantity::text, 'minOrderQuantity', min_order_quantity::text,
        'maxOrderNotional', max_order_notional::text, 'maxPositionQuantity', max_position_quantity::text,
        'maxGrossExposure', max_gross_exposure::text, 'priceCollarPct', price_collar_pct::text,
        'allowShortSelling', allow_short_selling, 'maxOrdersPerMinute', max_orders_per_minute,
        'dailyLossLimit', daily_loss_limit::text, 'updatedAt', updated_at, 'updatedBy', updated_by)
      FROM risk_limits WHERE account_id = p_account),
    'existing', (SELECT coalesce(json_object_agg(client_order_id, id), '{}'::json)
      FROM orders WHERE account_id = p_account
       AND client_order_id = ANY(coalesce(p_client_order_ids, '{}'::text[]))),
    'open', (SELECT coalesce(json_object_agg(symbol, json_build_object('buy', buy::text, 'sell', sell::text)), '{}'::json)
      FROM (SELECT symbol,
                   coalesce(sum(quantity - filled_quantity) FILTER (WHERE side = 'BUY'), 0) AS buy,
                   coalesce(sum(quantity - filled_quantity) FILTER (WHERE side = 'SELL'), 0) AS sell
              FROM orders WHERE account_id = p_account
               AND symbol = ANY(coalesce(p_symbols, '{}'::text[]))
               AND status IN ('NEW', 'PARTIALLY_FILLED') AND id IS DISTINCT FROM p_exclude
             GROUP BY symbol) s),
    'orders', (SELECT coalesce(json_agg(o), '[]'::json) FROM (
      SELECT id, account_id, client_order_id, symbol, side, type, time_in_force, quantity::text AS quantity,
             limit_price::text AS limit_price, stop_price::text AS stop_price, status,
             filled_quantity::text AS filled_quantity, average_fill_price::text AS average_fill_price, triggered,
             reserve_price::text AS reserve_price, reserve_units::text AS reserve_units,
             reserved_amount::text AS reserved_amount, reject_reason, reject_message, replaces_order_id,
             replaced_by_order_id, expires_at, last_tick_ts, last_tick_seq, created_at, updated_at
        FROM orders WHERE account_id = p_account AND id = ANY(coalesce(p_orders, '{}'::uuid[]))
       ORDER BY created_at, id
         FOR UPDATE) o)
  );
END;
$$;
--> statement-breakpoint
-- Writes everything an account's session changed, from one JSON document (snake_case keys, numerics as
-- strings): data-modifying CTEs, one statement, whatever the row counts. As a function its plan is
-- cached per connection (the statement was parsed and planned on every call when sent as text), and
-- it is one short call to send. Foreign keys are checked at the end of the statement, so events and
-- executions may reference orders inserted by the same statement. A clientOrderId the account already
-- used fails the whole statement (unique_violation on orders_client_order_id_unique): never expected
-- under the account lock, and nothing of the transaction is kept then.
CREATE FUNCTION trading_flush_session(p_doc jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_rows int;
BEGIN
  WITH doc AS (SELECT p_doc AS d),
  new_orders AS (
    INSERT INTO orders (id, account_id, client_order_id, symbol, side, type, time_in_force, quantity, limit_price,
      stop_price, status, filled_quantity, average_fill_price, triggered, reserve_price, reserve_units,
      reserved_amount, reject_reason, reject_message, replaces_order_id, replaced_by_order_id, expires_at,
      last_tick_ts, last_tick_seq, created_at, updated_at)
    SELECT v.* FROM doc, jsonb_to_recordset(doc.d->'newOrders') AS v(
      id uuid, account_id uuid, client_order_id text, symbol text, side text, type text, time_in_force text,
      quantity numeric, limit_price numeric, stop_price numeric, status text, filled_quantity numeric,
      average_fill_price numeric, triggered boolean, reserve_price numeric, reserve_units numeric,
      reserved_amount numeric, reject_reason text, reject_message text, replaces_order_id uuid,
      replaced_by_order_id uuid, expires_at timestamptz, last_tick_ts int8, last_tick_seq int8,
      created_at timestamptz, updated_at timestamptz)
    RETURNING 1
  ), changed_orders AS (
    UPDATE orders o SET status = v.status, filled_quantity = v.filled_quantity,
      average_fill_price = v.average_fill_price, triggered = v.triggered, reserved_amount = v.reserved_amount,
      replaced_by_order_id = v.replaced_by_order_id, last_tick_ts = v.last_tick_ts,
      last_tick_seq = v.last_tick_seq, updated_at = v.updated_at
    FROM doc, jsonb_to_recordset(doc.d->'changedOrders') AS v(
      id uuid, status text, filled_quantity numeric, average_fill_price numeric, triggered boolean,
      reserved_amount numeric, replaced_by_order_id uuid, last_tick_ts int8, last_tick_seq int8,
      updated_at timestamptz)
    WHERE o.id = v.id
    RETURNING 1
  ), execs AS (
    INSERT INTO executions (id, order_id, account_id, symbol, side, quantity, price, notional, fee, executed_at)
    SELECT v.id, v.order_id, (doc.d->>'accountId')::uuid, v.symbol, v.side, v.quantity, v.price, v.notional,
           v.fee, v.executed_at
    FROM doc, jsonb_to_recordset(doc.d->'executions') AS v(
      id uuid, order_id uuid, symbol text, side text, quantity numeric, price numeric, notional numeric,
      fee numeric, executed_at timestamptz)
    RETURNING 1
  ), events AS (
    INSERT INTO order_events (order_id, account_id, type, status, reason, message, quantity, price, detail, created_at)
    SELECT v.order_id, (doc.d->>'accountId')::uuid, v.type, v.status, v.reason, v.message, v.quantity, v.price,
           v.detail, v.created_at
    FROM doc, ROWS FROM (jsonb_to_recordset(doc.d->'events') AS (
      order_id uuid, type text, status text, reason text, message text, quantity numeric, price numeric,
      detail jsonb, created_at timestamptz)) WITH ORDINALITY
      AS v(order_id, type, status, reason, message, quantity, price, detail, created_at, n)
    ORDER BY v.n
    RETURNING 1
  ), ledger AS (
    INSERT INTO cash_ledger (account_id, kind, amount, reference, created_at)
    SELECT (doc.d->>'accountId')::uuid, v.kind, v.amount, v.reference, v.created_at
    FROM doc, ROWS FROM (jsonb_to_recordset(doc.d->'ledger') AS (
      kind text, amount numeric, reference text, created_at timestamptz)) WITH ORDINALITY
      AS v(kind, amount, reference, created_at, n)
    ORDER BY v.n
    RETURNING 1
  ), pos AS (
    INSERT INTO positions (account_id, symbol, quantity, average_price, realized_pnl, updated_at)
    SELECT (doc.d->>'accountId')::uuid, v.symbol, v.quantity, v.average_price, v.realized_pnl, v.updated_at
    FROM doc, jsonb_to_recordset(doc.d->'positions') AS v(
      symbol text, quantity numeric, average_price numeric, realized_pnl numeric, updated_at timestamptz)
    ON CONFLICT (account_id, symbol) DO UPDATE SET quantity = excluded.quantity,
      average_price = excluded.average_price, realized_pnl = excluded.realized_pnl, updated_at = excluded.updated_at
    RETURNING 1
  ), acct AS (
    UPDATE accounts a SET cash = v.cash, reserved = v.reserved, trading_state = v.trading_state,
      trading_state_reason = v.trading_state_reason, rate_window_start = v.rate_window_start,
      rate_window_count = v.rate_window_count, day_start_date = v.day_start_date,
      day_start_equity = v.day_start_equity, updated_at = v.updated_at
    FROM doc, jsonb_to_record(doc.d->'account') AS v(
      cash numeric, reserved numeric, trading_state text, trading_state_reason text,
      rate_window_start timestamptz, rate_window_count int, day_start_date date, day_start_equity numeric,
      updated_at timestamptz)
    WHERE a.id = (doc.d->>'accountId')::uuid AND jsonb_typeof(doc.d->'account') = 'object'
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM new_orders)::int + (SELECT count(*) FROM changed_orders)::int
      + (SELECT count(*) FROM execs)::int + (SELECT count(*) FROM events)::int + (SELECT count(*) FROM ledger)::int
      + (SELECT count(*) FROM pos)::int + (SELECT count(*) FROM acct)::int INTO v_rows;
END;
$$;
