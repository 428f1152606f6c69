import { Dec, str } from '../decimal.js';
import type { AccountResolvers } from '../generated/resolvers-types.js';
import type { AccountModel } from '../models.js';
import { callerOf } from '../tenant-scope.js';

function marketValue(a: AccountModel): Dec {
  return a.positions.reduce((sum, p) => sum.add(p.quantity.mul(p.lastPrice ?? p.averagePrice)), new Dec(0));
}

export const Account: AccountResolvers = {
  __resolveReference: (ref, ctx) => ctx.trading.accounts.get(callerOf(ctx), ref.id),
  id: (a) => a.row.id,
  name: (a) => a.row.name,
  currency: (a) => a.row.currency.trim(),
  cash: (a) => str(a.row.cash),
  reservedCash: (a) => str(a.row.reserved),
  buyingPower: (a) => str(new Dec(a.row.cash).sub(a.row.reserved).sub(a.shortMargin)),
  marketValue: (a) => str(marketValue(a)),
  equity: (a) => str(new Dec(a.row.cash).add(marketValue(a))),
  unrealizedPnl: (a) =>
    str(
      a.positions.reduce(
        (sum, p) => (p.lastPrice ? sum.add(p.quantity.mul(p.lastPrice.sub(p.averagePrice))) : sum),
        new Dec(0),
      ),
    ),
  realizedPnl: (a) => str(a.realizedPnl),
  tradingState: (a) => a.row.tradingState,
  tradingStateReason: (a) => a.row.tradingStateReason,
  riskLimits: (a) => a.limits,
  positions: (a) => a.positions,
  orders: (a, args, ctx) => ctx.trading.accounts.orders(callerOf(ctx), a.row.id, args),
  trades: (a, args, ctx) => ctx.trading.accounts.trades(callerOf(ctx), a.row.id, args),
  ledger: (a, { first }, ctx) => ctx.trading.accounts.ledger(callerOf(ctx), a.row.id, first),
  createdAt: (a) => a.row.createdAt,
};
