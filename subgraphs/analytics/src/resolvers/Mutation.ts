import { callerScope } from '../context.js';
import type { MutationResolvers } from '../generated/resolvers-types.js';

export const Mutation: MutationResolvers = {
  saveDashboard: (_p, args, ctx) => ctx.analytics.dashboards.save(callerScope(ctx), args.input),
  deleteDashboard: (_p, args, ctx) => ctx.analytics.dashboards.delete(callerScope(ctx), args.id),
};
