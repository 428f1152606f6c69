import { Dec, str, strOrNull } from '../decimal.js';
import type { OrderResolvers } from '../generated/resolvers-types.js';
import { callerOf } from '../tenant-scope.js';

export const Order: OrderResolvers = {
  __resolveReference: (ref, ctx) => ctx.trading.accounts.order(callerOf(ctx), ref.id),
  quantity: (o) => str(o.quantity),
  limitPrice: (o) => strOrNull(o.limitPrice),
  stopPrice: (o) => strOrNull(o.stopPrice),
  filledQuantity: (o) => str(o.filledQuantity),
  remainingQuantity: (o) => str(new Dec(o.quantity).sub(o.filledQuantity)),
  averageFillPrice: (o) => strOrNull(o.averageFillPrice),
  events: (o, _args, ctx) => ctx.trading.accounts.events(callerOf(ctx), o.id),
  trades: (o, _args, ctx) => ctx.trading.accounts.executionsOfOrder(callerOf(ctx), o.id),
  instrument: (o) => ({ symbol: o.symbol }),
};
