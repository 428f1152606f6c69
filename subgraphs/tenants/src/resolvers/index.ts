import { DateTimeScalar, JSONScalar } from '../../../../lib/scalars.js';
import type { Resolvers } from '../generated/resolvers-types.js';
import { Backup } from './Backup.js';
import { Mutation } from './Mutation.js';
import { Query } from './Query.js';
import { Tenant } from './Tenant.js';
import { User } from './User.js';

/** Every resolver of the tenants subgraph. */
export const resolvers: Resolvers = {
  DateTime: DateTimeScalar,
  JSON: JSONScalar,
  Query,
  Mutation,
  Tenant,
  Backup,
  User,
};
