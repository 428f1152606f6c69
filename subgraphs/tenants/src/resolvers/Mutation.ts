import { requireAuth, requireService } from '../../../../lib/context.js';
import type { MutationResolvers } from '../generated/resolvers-types.js';

export const Mutation: MutationResolvers = {
  provisionTenant: async (_parent, { input }, ctx) => {
    const { job } = await ctx.services.tenants.provision(requireAuth(ctx), input, ctx.ip);
    return job;
  },
  backupTenant: async (_parent, { tenantId, backupType }, ctx) => {
    const { job } = await ctx.services.backups.requestBackup(
      requireAuth(ctx),
      tenantId,
      backupType ?? 'MANUAL',
    );
    return job;
  },
  restoreTenant: (_parent, { backupId }, ctx) =>
    ctx.services.backups.requestRestore(requireAuth(ctx), backupId),
  cloneTenant: (_parent, { backupId, organizationName }, ctx) =>
    ctx.services.backups.requestClone(requireAuth(ctx), backupId, organizationName),
  setTenantLimits: (_parent, { tenantId, input }, ctx) =>
    ctx.services.limits.set(requireAuth(ctx), tenantId, input),
  createOwnedTenant: async (_parent, { input }, ctx) => {
    requireService(ctx);
    const { tenant, job } = await ctx.services.tenants.createOwned(
      input.ownerUserId,
      input.organizationName,
      input.template,
    );
    return { tenantId: tenant.id, jobId: job.id };
  },
};
