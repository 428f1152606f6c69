import { DateTimeScalar } from '../../../../lib/scalars.js';
import type { Resolvers } from '../generated/resolvers-types.js';
import { Mutation } from './Mutation.js';
import { Query } from './Query.js';
import { Session } from './Session.js';

/** Every resolver of the sessions subgraph. */
export const resolvers: Resolvers = { DateTime: DateTimeScalar, Query, Mutation, Session };
