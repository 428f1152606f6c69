import { Dec, str } from '../decimal.js';
import type { AccountResolvers } from '../generated/resolvers-types.js';
import type { AccountModel } from '../models.js';
import { callerOf } from '../tenant-scope.js';
import { pageSize } from '../trading.repository.js';

function marketValue(a: AccountModel): Dec {
  return a.positions.reduce((sum, p) => sum.add(p.quantity.mul(p.lastPrice ?? p.averagePrice)), new Dec(0));
}

export const Account: AccountResolvers = {
  __resolveReference: (ref, ctx) => {
    callerOf(ctx);
    return ctx.loaders.account.load(ref.id);
  },
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
  orders: (a, args, ctx) => {
    callerOf(ctx);
    return ctx.loaders.ordersOfAccount.load({
      accountId: a.row.id,
      filter: { status: args.status ?? null, symbol: args.symbol ?? null, first: pageSize(args.first) },
    });
  },
  trades: (a, args, ctx) => {
    callerOf(ctx);
    return ctx.loaders.tradesOfAccount.load({
      accountId: a.row.id,
      filter: { symbol: args.symbol ?? null, first: pageSize(args.first) },
    });
  },
  ledger: (a, { first }, ctx) => {
    callerOf(ctx);
    return ctx.loaders.ledgerOfAccount.load({ accountId: a.row.id, filter: { first: pageSize(first) } });
  },
  createdAt: (a) => a.row.createdAt,
};
