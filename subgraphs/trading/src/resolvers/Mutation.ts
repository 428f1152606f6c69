import type { MutationResolvers } from '../generated/resolvers-types.js';
import { callerOf, MANAGER_ROLES, TRADER_ROLES } from '../tenant-scope.js';

export const Mutation: MutationResolvers = {
  placeOrder: (_parent, { input }, ctx) => ctx.trading.orders.place(callerOf(ctx, TRADER_ROLES), input),
  cancelOrder: (_parent, { id }, ctx) => ctx.trading.orders.cancel(callerOf(ctx, TRADER_ROLES), id),
  cancelAllOrders: (_parent, { accountId, symbol }, ctx) =>
    ctx.trading.orders.cancelAll(callerOf(ctx, TRADER_ROLES), accountId, symbol),
  replaceOrder: (_parent, { id, input }, ctx) =>
    ctx.trading.orders.replace(callerOf(ctx, TRADER_ROLES), id, input),
  deposit: (_parent, { input }, ctx) => ctx.trading.accounts.deposit(callerOf(ctx, MANAGER_ROLES), input),
  withdraw: (_parent, { input }, ctx) => ctx.trading.accounts.withdraw(callerOf(ctx, MANAGER_ROLES), input),
  updateRiskLimits: (_parent, { accountId, input }, ctx) =>
    ctx.trading.accounts.updateRiskLimits(callerOf(ctx, MANAGER_ROLES), accountId, input),
  setTradingState: (_parent, { accountId, state, reason }, ctx) =>
    ctx.trading.accounts.setTradingState(callerOf(ctx, MANAGER_ROLES), accountId, state, reason),
};
