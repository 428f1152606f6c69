import type { VolatilityRankResolvers } from '../generated/resolvers-types.js';

export const VolatilityRank: VolatilityRankResolvers = {
  instrument: (rank, _args, ctx) => ctx.market.catalog.require(rank.symbol),
};
