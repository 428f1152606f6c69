import { requireAuth } from '../../../../lib/context.js';
import type { QueryResolvers } from '../generated/resolvers-types.js';

export const Query: QueryResolvers = {
  mySessions: (_parent, _args, ctx) => ctx.sessions.listLive(requireAuth(ctx).userId),
};
