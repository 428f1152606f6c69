import { requireAuth, requireService } from '../../../../lib/context.js';
import type { QueryResolvers } from '../generated/resolvers-types.js';

export const Query: QueryResolvers = {
  tenant: (_parent, { id }, ctx) => ctx.services.tenants.getTenant(requireAuth(ctx), id),
  tenants: (_parent, _args, ctx) => ctx.services.tenants.listTenants(requireAuth(ctx)),
  job: (_parent, { id }, ctx) => ctx.services.jobs.getJob(requireAuth(ctx), id),
  userMemberships: (_parent, { userId }, ctx) => {
    requireService(ctx);
    return ctx.services.tenants.membershipGrants(userId);
  },
};
