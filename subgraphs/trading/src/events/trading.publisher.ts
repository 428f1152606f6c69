/**
 * After a transaction commits, in one pipelined round trip: events for subscriptions (per tenant and
 * account), the durable trade stream (`trading:trades`, XADD with approximate trimming), the real-time
 * cache (positions, last trade, account summary) and announcements of resting orders for the replica
 * whose engine owns their symbol.
 */
import type { Logger } from '../../../../lib/logger.js';
import type { Redis } from '../../../../lib/redis.js';
import type { ExecutionRow, OrderRow } from '../db/tenant-schema.js';
import type { TxEffects } from '../session-changes.js';
import { Dec, str } from '../decimal.js';
import { isoTime, isoTimeOrNull } from '../iso-time.js';
import { isOpen } from '../order.types.js';
import type { TradingMetrics } from '../trading.metrics.js';
import { tradingChannels, tradingKeys } from './trading.channels.js';

/** A trade's message: `JSON.stringify({ execution, order })`, with the order's JSON already made. */
export function tradeMessage(execution: ExecutionRow, orderJson: string): string {
  const e = { ...execution, executedAt: isoTime(execution.executedAt) };
  return `{"execution":${JSON.stringify(e)},"order":${orderJson}}`;
}

/**
 * `JSON.stringify(order)`, the same text, with its timestamps written as strings first (iso-time.ts:
 * one conversion per instant, and JSON.stringify's fast path).
 */
export function orderMessage(order: OrderRow): string {
  return JSON.stringify({
    ...order,
    expiresAt: isoTimeOrNull(order.expiresAt),
    createdAt: isoTime(order.createdAt),
    updatedAt: isoTime(order.updatedAt),
  });
}

/** A resting order's announcement: `JSON.stringify({ tenantId, order })`, with the order's JSON made. */
export function bookMessage(tenantId: string, orderJson: string): string {
  return `{"tenantId":${JSON.stringify(tenantId)},"order":${orderJson}}`;
}

/**
 * Delivery is after commit, so a subscriber never sees a change that was rolled back; a crash between
 * commit and publish loses those events (the database stays the source of truth: the order and trade
 * queries, and the analytics consumer's catch-up from the executions table, are unaffected).
 * The cache keys live `cacheTtlSeconds` from their last write, so those of idle accounts and removed
 * tenants go away by themselves; the positions hash is rewritten whole whenever positions change, so
 * one that expired comes back complete.
 */
export class TradingPublisher {
  /**
   * @param redis command client whose keyPrefix is REDIS_PREFIX
   * @param prefix REDIS_PREFIX (channels carry it explicitly)
   */
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly streamMaxLen: number,
    private readonly cacheTtlSeconds: number,
    private readonly metrics: TradingMetrics,
    private readonly logger: Logger,
  ) {}

  /**
   * Publishes the effects of one committed transaction. Never throws: the change is committed, a
   * failure here is logged and counted.
   * @param announce whether an open order's symbol needs announcing to another replica's engine
   */
  async publish(tenantId: string, effects: TxEffects, announce: (symbol: string) => boolean): Promise<void> {
    const p = this.redis.pipeline();
    const { accountId } = effects;
    // Numerics of executions and positions are canonical text already (the session writes them with
    // str); the account's may be as read from the database, so those go through str here.
    // Each order is serialized once: its trade messages embed the same text (the same JSON as
    // stringifying `{ execution, order }` whole).
    const orderJson = new Map<OrderRow, string>();
    const jsonOf = (order: OrderRow): string => {
      let json = orderJson.get(order);
      if (json === undefined) {
        json = orderMessage(order);
        orderJson.set(order, json);
      }
      return json;
    };
    const ordersChannel = tradingChannels.orders(this.prefix, tenantId, accountId);
    for (const order of effects.orders) {
      p.publish(ordersChannel, jsonOf(order));
      if (isOpen(order.status) && announce(order.symbol)) {
        p.publish(tradingChannels.book(this.prefix), bookMessage(tenantId, jsonOf(order)));
      }
    }
    const tradesChannel = tradingChannels.trades(this.prefix, tenantId, accountId);
    for (const trade of effects.trades) {
      const e = trade.execution;
      p.publish(tradesChannel, tradeMessage(e, jsonOf(trade.order)));
      p.xadd(
        tradingKeys.tradeStream,
        'MAXLEN',
        '~',
        String(this.streamMaxLen),
        '*',
        'tenantId',
        tenantId,
        'accountId',
        accountId,
        'tradeId',
        e.id,
        'orderId',
        e.orderId,
        'symbol',
        e.symbol,
        'side',
        e.side,
        'quantity',
        e.quantity,
        'price',
        e.price,
        'notional',
        e.notional,
        'fee',
        e.fee,
        'executedAt',
        e.executedAt.toISOString(),
      );
    }
    const last = effects.trades.at(-1);
    if (last) {
      p.set(
        tradingKeys.lastTrade(tenantId, accountId),
        JSON.stringify({
          id: last.execution.id,
          orderId: last.execution.orderId,
          symbol: last.execution.symbol,
          side: last.execution.side,
          quantity: last.execution.quantity,
          price: last.execution.price,
          executedAt: last.execution.executedAt.toISOString(),
        }),
        'EX',
        this.cacheTtlSeconds,
      );
    }
    if (effects.positions.length > 0) {
      const posKey = tradingKeys.positions(tenantId, accountId);
      const flat = effects.positions.filter((pos) => new Dec(pos.quantity).isZero()).map((pos) => pos.symbol);
      if (flat.length > 0) p.hdel(posKey, ...flat);
      if (effects.heldPositions.length > 0) {
        const fields: Record<string, string> = {};
        for (const pos of effects.heldPositions) {
          fields[pos.symbol] = JSON.stringify({
            quantity: pos.quantity,
            averagePrice: pos.averagePrice,
            realizedPnl: pos.realizedPnl,
            updatedAt: pos.updatedAt.toISOString(),
          });
        }
        p.hset(posKey, fields);
        p.expire(posKey, this.cacheTtlSeconds);
      }
    }
    if (effects.trades.length > 0 || effects.orders.length > 0) {
      const accountKey = tradingKeys.account(tenantId, accountId);
      p.hset(accountKey, {
        cash: str(effects.account.cash),
        reserved: str(effects.account.reserved),
        tradingState: effects.account.tradingState,
        updatedAt: effects.account.updatedAt.toISOString(),
      });
      p.expire(accountKey, this.cacheTtlSeconds);
    }
    if (p.length === 0) return;
    try {
      const results = (await p.exec()) ?? [];
      if (results.some(([err]) => err))
        throw results.find(([err]) => err)?.[0] ?? new Error('pipeline failed');
    } catch (err) {
      this.metrics.publishFailures.inc();
      this.logger.error({ err, tenantId, accountId }, 'could not publish trading events');
    }
  }
}
