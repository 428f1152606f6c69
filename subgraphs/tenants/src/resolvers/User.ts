import type { UserResolvers } from '../generated/resolvers-types.js';

export const User: UserResolvers = {
  __resolveReference: (ref) => ({ id: ref.id }),
  memberships: (user, _args, ctx) => ctx.services.tenants.memberships(ctx.auth, user.id),
};
