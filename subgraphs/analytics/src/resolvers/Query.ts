import { callerScope } from '../context.js';
import type { QueryResolvers } from '../generated/resolvers-types.js';

const asDate = (v: Date | string | null | undefined): Date | null =>
  v === null || v === undefined ? null : v instanceof Date ? v : new Date(v);

export const Query: QueryResolvers = {
  performanceReport: (_p, args, ctx) =>
    ctx.analytics.reports.performanceReport(
      callerScope(ctx),
      args.accountId,
      asDate(args.from),
      asDate(args.to),
    ),
  riskReport: (_p, args, ctx) => ctx.analytics.reports.riskReport(callerScope(ctx), args.accountId),
  dashboards: (_p, _args, ctx) => ctx.analytics.dashboards.list(callerScope(ctx)),
};
