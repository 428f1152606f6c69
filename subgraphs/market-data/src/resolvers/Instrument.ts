import { requireCaller } from '../context.js';
import type { InstrumentResolvers } from '../generated/resolvers-types.js';

export const Instrument: InstrumentResolvers = {
  __resolveReference: (ref, ctx) => {
    requireCaller(ctx);
    return ctx.market.catalog.get(ref.symbol) ?? null;
  },
  quote: (instrument, _args, ctx) => ctx.market.quotes.get(instrument.symbol),
};
