import type { OrderRow } from '../db/tenant-schema.js';
import { tradingChannels } from '../events/trading.channels.js';
import { decodeOrder, decodeTrade, parseJson, type TradeEvent } from '../events/wire.js';
import type { SubscriptionResolvers } from '../generated/resolvers-types.js';
import type { TradeModel } from '../models.js';
import { callerOf } from '../tenant-scope.js';

// The channel is built from the caller's verified tenant id and an account that exists in that
// tenant's schema (checked before subscribing), so no subscription can name another tenant's events.
export const Subscription: SubscriptionResolvers = {
  orderUpdated: {
    subscribe: async (_parent, { accountId }, ctx) => {
      const caller = callerOf(ctx);
      const account = await ctx.trading.accounts.require(caller, accountId);
      return ctx.trading.hub.iterate(
        tradingChannels.orders(ctx.trading.redisPrefix, caller.scope.tenantId, account.row.id),
        (m) => {
          const raw = parseJson(m);
          return raw ? decodeOrder(raw) : null;
        },
      );
    },
    resolve: (order: OrderRow) => order,
  },
  tradeExecuted: {
    subscribe: async (_parent, { accountId }, ctx) => {
      const caller = callerOf(ctx);
      const account = await ctx.trading.accounts.require(caller, accountId);
      return ctx.trading.hub.iterate(
        tradingChannels.trades(ctx.trading.redisPrefix, caller.scope.tenantId, account.row.id),
        (m) => {
          const raw = parseJson(m);
          return raw ? decodeTrade(raw) : null;
        },
      );
    },
    resolve: (event: TradeEvent): TradeModel => ({ ...event.execution, order: event.order }),
  },
};
