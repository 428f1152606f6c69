import { requireAuth } from '../../../../lib/context.js';
import { badInput } from '../../../../lib/errors.js';
import { clientInfo } from '../context.js';
import type { MutationResolvers } from '../generated/resolvers-types.js';

export const Mutation: MutationResolvers = {
  register: (_parent, { input }, ctx) => ctx.accounts.register(input, clientInfo(ctx)),
  login: (_parent, { input }, ctx) => ctx.accounts.login(input, clientInfo(ctx)),
  refreshToken: (_parent, { refreshToken }, ctx) => ctx.accounts.refresh(refreshToken, clientInfo(ctx)),
  logout: (_parent, _args, ctx) => ctx.accounts.logout(requireAuth(ctx), clientInfo(ctx)),
  switchTenant: (_parent, { tenantId }, ctx) =>
    ctx.accounts.switchTenant(requireAuth(ctx), tenantId, clientInfo(ctx)),
  startOidcLogin: (_parent, { input }, ctx) => {
    if (!ctx.oidc) throw badInput('OIDC sign-in is not configured');
    return ctx.oidc.start(input?.organizationName);
  },
  completeOidcLogin: async (_parent, { input }, ctx) => {
    if (!ctx.oidc) throw badInput('OIDC sign-in is not configured');
    const params = new URLSearchParams({ code: input.code, state: input.state });
    if (input.iss) params.set('iss', input.iss);
    const { identity, organizationName } = await ctx.oidc.complete(params);
    return ctx.accounts.loginWithIdentity(identity, organizationName, clientInfo(ctx));
  },
};
