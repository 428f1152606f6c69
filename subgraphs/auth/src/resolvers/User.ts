import type { UserResolvers } from '../generated/resolvers-types.js';

export const User: UserResolvers = {
  __resolveReference: (ref, ctx) => ctx.accounts.user(ref.id),
};
