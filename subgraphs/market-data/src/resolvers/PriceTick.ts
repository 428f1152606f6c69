import type { PriceTickResolvers } from '../generated/resolvers-types.js';

export const PriceTick: PriceTickResolvers = {
  timestamp: (tick) => new Date(tick.ts),
  instrument: (tick, _args, ctx) => ctx.market.catalog.require(tick.symbol),
};
