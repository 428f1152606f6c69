import { strOrNull } from '../decimal.js';
import type { OrderEventResolvers } from '../generated/resolvers-types.js';

export const OrderEvent: OrderEventResolvers = {
  id: (e) => String(e.id),
  quantity: (e) => strOrNull(e.quantity),
  price: (e) => strOrNull(e.price),
};
