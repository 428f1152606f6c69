import type { QueryResolvers } from '../generated/resolvers-types.js';
import { OIDC_PROVIDER_ID } from '../oidc.service.js';

export const Query: QueryResolvers = {
  me: (_parent, _args, ctx) => (ctx.auth ? ctx.accounts.user(ctx.auth.userId) : null),
  oidcProviders: (_parent, _args, ctx) =>
    ctx.oidc ? [{ id: OIDC_PROVIDER_ID, issuer: ctx.oidc.issuer }] : [],
};
