import { requireAuth } from '../../../../lib/context.js';
import { notFound } from '../../../../lib/errors.js';
import type { TenantResolvers } from '../generated/resolvers-types.js';
import type { TenantModel } from '../models.js';

/** Fields beyond `id` and `status` need a caller who may see the tenant (see TenantService.resolveReference). */
function full(tenant: TenantModel): TenantModel {
  if (tenant.limited) throw notFound('Tenant');
  return tenant;
}

export const Tenant: TenantResolvers = {
  __resolveReference: (ref, ctx) => ctx.services.tenants.resolveReference(ctx.auth, ref.id),
  organizationName: (t) => full(t).organizationName,
  template: (t) => full(t).template,
  schemaName: (t) => full(t).schemaName,
  createdAt: (t) => full(t).createdAt,
  provisionedAt: (t) => full(t).provisionedAt,
  health: (t, _args, ctx) => {
    requireAuth(ctx);
    return ctx.services.health.check(full(t));
  },
  backups: (t, { first }, ctx) => ctx.services.tenants.backups(requireAuth(ctx), full(t), first),
  limits: (t, _args, ctx) => {
    requireAuth(ctx);
    return ctx.services.limits.effective(full(t));
  },
};
