import { Counter, Gauge, Histogram, type Registry } from '../../../lib/metrics.js';
import { accountQueueDepth } from './account-queue.js';

/** Metrics of the trading subgraph (orders, fills, the engine, event publishing). */
export interface TradingMetrics {
  ordersPlaced: Counter<'result'>;
  orderRejections: Counter<'reason'>;
  placementDuration: Histogram<'type'>;
  placementBatch: Histogram;
  fills: Counter<'source'>;
  tickDuration: Histogram;
  ticksDropped: Counter;
  restingOrders: Gauge;
  ownedSymbols: Gauge;
  publishFailures: Counter;
  subscriptions: Gauge;
  limitRefusals: Counter<'limit'>;
  tenantTransactions: Counter;
  tenantConnectionWaits: Counter;
  accountQueueDepth: Gauge;
}

/** Registers the trading metrics on `registry`. */
export function createTradingMetrics(registry: Registry): TradingMetrics {
  return {
    ordersPlaced: new Counter({
      name: 'trading_orders_placed_total',
      help: 'Orders submitted, by result (accepted, rejected, duplicate)',
      labelNames: ['result'],
      registers: [registry],
    }),
    orderRejections: new Counter({
      name: 'trading_order_rejections_total',
      help: 'Orders rejected by a pre-trade check, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    placementDuration: new Histogram({
      name: 'trading_order_placement_duration_seconds',
      help: 'Time to validate, check, persist (and fill, when marketable) one order',
      labelNames: ['type'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    placementBatch: new Histogram({
      name: 'trading_placement_batch_orders',
      help: 'Orders placed per account transaction (submissions that arrive while one runs share the next)',
      buckets: [1, 2, 4, 8, 16, 32, 64],
      registers: [registry],
    }),
    fills: new Counter({
      name: 'trading_fills_total',
      help: 'Executions, by where they happened (placement: marketable on arrival; engine: resting)',
      labelNames: ['source'],
      registers: [registry],
    }),
    tickDuration: new Histogram({
      name: 'trading_engine_tick_duration_seconds',
      help: 'Time the engine spent on a tick that crossed resting orders (until committed)',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    ticksDropped: new Counter({
      name: 'trading_engine_ticks_dropped_total',
      help: 'Ticks dropped because a symbol queue was full',
      registers: [registry],
    }),
    restingOrders: new Gauge({
      name: 'trading_engine_resting_orders',
      help: 'Orders in the engine index of this replica',
      registers: [registry],
    }),
    ownedSymbols: new Gauge({
      name: 'trading_engine_owned_symbols',
      help: 'Symbols whose lock this replica holds',
      registers: [registry],
    }),
    publishFailures: new Counter({
      name: 'trading_event_publish_failures_total',
      help: 'Committed changes whose Redis events (pub/sub, stream, cache) could not be written',
      registers: [registry],
    }),
    subscriptions: new Gauge({
      name: 'trading_subscriptions',
      help: 'Active orderUpdated / tradeExecuted subscriptions',
      registers: [registry],
    }),
    limitRefusals: new Counter({
      name: 'trading_limit_refusals_total',
      help: 'Requests refused by a resource bound, by limit (account_queue)',
      labelNames: ['limit'],
      registers: [registry],
    }),
    tenantTransactions: new Counter({
      name: 'trading_tenant_transactions_total',
      help: 'Tenant transactions started (placements, fills and reads)',
      registers: [registry],
    }),
    tenantConnectionWaits: new Counter({
      name: 'trading_tenant_connection_waits_total',
      help: "Tenant transactions that waited because their tenant held its share of the pool's connections",
      registers: [registry],
    }),
    accountQueueDepth: new Gauge({
      name: 'trading_account_queue_depth',
      help: 'Order submissions waiting in the per-account queues or in their running batch (read at scrape)',
      registers: [registry],
      collect() {
        this.set(accountQueueDepth());
      },
    }),
  };
}
