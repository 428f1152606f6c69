import type { MoverResolvers } from '../generated/resolvers-types.js';

export const Mover: MoverResolvers = {
  instrument: (mover, _args, ctx) => ctx.market.catalog.require(mover.symbol),
};
