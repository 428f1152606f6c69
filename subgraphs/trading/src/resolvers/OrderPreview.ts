import { str, strOrNull } from '../decimal.js';
import type { OrderPreviewResolvers } from '../generated/resolvers-types.js';

export const OrderPreview: OrderPreviewResolvers = {
  estimatedPrice: (p) => strOrNull(p.estimatedPrice),
  estimatedNotional: (p) => strOrNull(p.estimatedNotional),
  estimatedFee: (p) => strOrNull(p.estimatedFee),
  reservation: (p) => str(p.reservation),
  buyingPower: (p) => str(p.buyingPower),
  buyingPowerAfter: (p) => str(p.buyingPowerAfter),
};
