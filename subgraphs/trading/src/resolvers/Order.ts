import { Dec, str, strOrNull } from '../decimal.js';
import type { OrderResolvers } from '../generated/resolvers-types.js';
import { callerOf } from '../tenant-scope.js';

export const Order: OrderResolvers = {
  __resolveReference: (ref, ctx) => {
    callerOf(ctx);
    return ctx.loaders.order.load(ref.id);
  },
  quantity: (o) => str(o.quantity),
  limitPrice: (o) => strOrNull(o.limitPrice),
  stopPrice: (o) => strOrNull(o.stopPrice),
  filledQuantity: (o) => str(o.filledQuantity),
  remainingQuantity: (o) => str(new Dec(o.quantity).sub(o.filledQuantity)),
  averageFillPrice: (o) => strOrNull(o.averageFillPrice),
  events: (o, _args, ctx) => {
    callerOf(ctx);
    return ctx.loaders.eventsOfOrder.load(o.id);
  },
  trades: (o, _args, ctx) => {
    callerOf(ctx);
    return ctx.loaders.tradesOfOrder.load(o.id);
  },
  instrument: (o) => ({ symbol: o.symbol }),
};
