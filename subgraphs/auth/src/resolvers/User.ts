import { forbidden, notFound } from '../../../../lib/errors.js';
import type { AuthPayloadResolvers, UserResolvers } from '../generated/resolvers-types.js';

// Users handed out in an AuthPayload: the caller just proved to be them (register, login, refresh,
// OIDC), though the request itself may carry no token yet.
const issued = new WeakSet<object>();

export const AuthPayload: AuthPayloadResolvers = {
  user: (payload) => {
    issued.add(payload.user);
    return payload.user;
  },
};

export const User: UserResolvers = {
  __resolveReference: (ref, ctx) => ctx.accounts.user(ref.id),
  // `email: String!` stays non-null, so another caller gets FORBIDDEN rather than a null the schema
  // does not allow (reachable through `_entities`, i.e. any subgraph that returns a User).
  email: (user, _args, ctx) => {
    if (!(issued.has(user) || ctx.auth?.userId === user.id || ctx.auth?.platformAdmin === true)) {
      throw forbidden('Only the user themself or a platform admin may read this email');
    }
    // A bare reference never gets here: __resolveReference answers the full row, or null.
    if (!('email' in user)) throw notFound('User');
    return user.email;
  },
};
