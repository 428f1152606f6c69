import type { QueryResolvers } from '../generated/resolvers-types.js';
import { callerOf } from '../tenant-scope.js';

export const Query: QueryResolvers = {
  accounts: (_parent, _args, ctx) => ctx.trading.accounts.list(callerOf(ctx)),
  account: (_parent, { id }, ctx) => {
    callerOf(ctx);
    return ctx.loaders.account.load(id);
  },
  order: (_parent, { id }, ctx) => {
    callerOf(ctx);
    return ctx.loaders.order.load(id);
  },
  previewOrder: (_parent, { input }, ctx) => ctx.trading.orders.preview(callerOf(ctx), input),
};
