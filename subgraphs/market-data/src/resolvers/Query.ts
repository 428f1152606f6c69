import { requireCaller } from '../context.js';
import type { QueryResolvers } from '../generated/resolvers-types.js';

export const Query: QueryResolvers = {
  instruments: (_parent, _args, ctx) => {
    requireCaller(ctx);
    return ctx.market.catalog.all();
  },
  instrument: (_parent, { symbol }, ctx) => {
    requireCaller(ctx);
    return ctx.market.catalog.get(symbol) ?? null;
  },
  candles: (_parent, args, ctx) => {
    requireCaller(ctx);
    return ctx.market.candles.list({ ...args, from: toDate(args.from), to: toDate(args.to) });
  },
  candlePage: (_parent, args, ctx) => {
    requireCaller(ctx);
    return ctx.market.candles.page({ ...args, from: toDate(args.from), to: toDate(args.to) });
  },
  indicators: (_parent, args, ctx) => {
    requireCaller(ctx);
    return ctx.market.indicators.load({ ...args, from: toDate(args.from), to: toDate(args.to) });
  },
  marketSummary: (_parent, args, ctx) => {
    requireCaller(ctx);
    return ctx.market.summary.summary(args);
  },
};

/** The DateTime scalar parses inputs into Dates; the generated type also allows strings. */
function toDate(value: Date | string | null | undefined): Date | null {
  if (value === null || value === undefined) return null;
  return value instanceof Date ? value : new Date(value);
}
