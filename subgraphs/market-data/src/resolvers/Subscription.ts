import { requireCaller } from '../context.js';
import type { SubscriptionResolvers } from '../generated/resolvers-types.js';
import type { Tick } from '../../../../contracts/market-tick.js';

export const Subscription: SubscriptionResolvers = {
  priceUpdated: {
    // Validation happens before anything is subscribed: an unknown symbol is BAD_USER_INPUT.
    subscribe: async (_parent, { symbols }, ctx) => {
      requireCaller(ctx);
      const instruments = ctx.market.catalog.requireAll(symbols);
      return ctx.market.hub.iterate(instruments.map((i) => i.symbol));
    },
    // Each event is the tick itself (not wrapped in { priceUpdated }).
    resolve: (tick: Tick) => tick,
  },
};
