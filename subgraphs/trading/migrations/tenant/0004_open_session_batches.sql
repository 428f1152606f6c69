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
