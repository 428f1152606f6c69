import { DateTimeScalar, DecimalScalar, JSONScalar } from '../../../../lib/scalars.js';
import type { Resolvers } from '../generated/resolvers-types.js';
import { Mutation } from './Mutation.js';
import { Query } from './Query.js';

/** Every resolver of the analytics subgraph. */
export const resolvers: Resolvers = {
  DateTime: DateTimeScalar,
  Decimal: DecimalScalar,
  JSON: JSONScalar,
  Query,
  Mutation,
};
