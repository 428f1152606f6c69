import { notFound } from '../../../../lib/errors.js';
import { str } from '../decimal.js';
import type { TradeResolvers } from '../generated/resolvers-types.js';
import { callerOf } from '../tenant-scope.js';

export const Trade: TradeResolvers = {
  order: async (t, _args, ctx) => {
    if (t.order) return t.order;
    callerOf(ctx);
    const order = await ctx.loaders.order.load(t.orderId);
    if (!order) throw notFound('Order');
    return order;
  },
  quantity: (t) => str(t.quantity),
  price: (t) => str(t.price),
  notional: (t) => str(t.notional),
  fee: (t) => str(t.fee),
  instrument: (t) => ({ symbol: t.symbol }),
};
