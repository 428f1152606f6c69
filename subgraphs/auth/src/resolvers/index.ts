import { DateTimeScalar } from '../../../../lib/scalars.js';
import type { Resolvers } from '../generated/resolvers-types.js';
import { Mutation } from './Mutation.js';
import { Query } from './Query.js';
import { AuthPayload, User } from './User.js';

/** Every resolver of the auth subgraph. */
export const resolvers: Resolvers = { DateTime: DateTimeScalar, Query, Mutation, AuthPayload, User };
