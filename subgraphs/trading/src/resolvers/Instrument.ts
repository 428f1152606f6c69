import type { InstrumentResolvers } from '../generated/resolvers-types.js';
import { callerOf } from '../tenant-scope.js';

// Instrument belongs to market-data; trading resolves references to add the caller's position.
export const Instrument: InstrumentResolvers = {
  __resolveReference: (ref) => ({ symbol: ref.symbol }),
  symbol: (i) => i.symbol,
  position: (i, { accountId }, ctx) => {
    if (!ctx.auth) return null;
    callerOf(ctx);
    return ctx.loaders.position.load({ symbol: i.symbol, accountId: accountId ?? null });
  },
};
