import type { SessionsContext } from '../context.js';
import type { SessionResolvers } from '../generated/resolvers-types.js';
import type { SessionView } from '../session.service.js';

/** Only the owner sees where and how a session is used; see the README for the anonymous case. */
function isOwner(session: SessionView, ctx: SessionsContext): boolean {
  return ctx.auth !== null && ctx.auth.userId === session.userId;
}

export const Session: SessionResolvers = {
  __resolveReference: (ref, ctx) => ctx.sessions.get(ref.id),
  current: (session, _args, ctx) => ctx.auth?.sessionId === session.id,
  ipAddress: (session, _args, ctx) => (isOwner(session, ctx) ? session.ipAddress : null),
  userAgent: (session, _args, ctx) => (isOwner(session, ctx) ? session.userAgent : null),
  events: (session, { first }, ctx) => (isOwner(session, ctx) ? ctx.sessions.events(session.id, first) : []),
};
