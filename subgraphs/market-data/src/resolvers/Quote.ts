import type { QuoteResolvers } from '../generated/resolvers-types.js';

/** A quote is the latest tick of its symbol. */
export const Quote: QuoteResolvers = {
  last: (tick) => tick.price,
  timestamp: (tick) => new Date(tick.ts),
};
