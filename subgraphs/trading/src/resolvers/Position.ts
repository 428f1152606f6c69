import { str, strOrNull } from '../decimal.js';
import type { PositionResolvers } from '../generated/resolvers-types.js';

export const Position: PositionResolvers = {
  symbol: (p) => p.symbol,
  quantity: (p) => str(p.quantity),
  averagePrice: (p) => str(p.averagePrice),
  lastPrice: (p) => strOrNull(p.lastPrice),
  marketValue: (p) => (p.lastPrice ? str(p.quantity.mul(p.lastPrice)) : null),
  unrealizedPnl: (p) => (p.lastPrice ? str(p.quantity.mul(p.lastPrice.sub(p.averagePrice))) : null),
  realizedPnl: (p) => str(p.realizedPnl),
  instrument: (p) => ({ symbol: p.symbol }),
};
