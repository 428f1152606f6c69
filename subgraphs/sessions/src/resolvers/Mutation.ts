import { requireAuth, requireService } from '../../../../lib/context.js';
import type { MutationResolvers } from '../generated/resolvers-types.js';

export const Mutation: MutationResolvers = {
  revokeSession: (_parent, { id }, ctx) => ctx.sessions.revokeOwn(requireAuth(ctx).userId, id, ctx.ip),
  revokeAllSessions: (_parent, _args, ctx) => ctx.sessions.revokeAll(requireAuth(ctx).userId, ctx.ip),

  // Internal fields (@inaccessible in the supergraph): auth calls them with the service token.
  openSession: (_parent, { input }, ctx) => {
    requireService(ctx);
    return ctx.sessions.open(input);
  },
  rotateRefreshToken: (_parent, { refreshToken, ipAddress, userAgent }, ctx) => {
    requireService(ctx);
    return ctx.sessions.rotate(refreshToken, ipAddress, userAgent);
  },
  switchSessionTenant: (_parent, { sessionId, tenantId, ipAddress }, ctx) => {
    requireService(ctx);
    return ctx.sessions.switchTenant(sessionId, tenantId, ipAddress);
  },
  endSession: (_parent, { sessionId, ipAddress }, ctx) => {
    requireService(ctx);
    return ctx.sessions.end(sessionId, ipAddress);
  },
};
