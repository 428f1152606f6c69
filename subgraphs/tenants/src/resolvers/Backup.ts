import type { BackupResolvers } from '../generated/resolvers-types.js';

/** GraphQL `Int` is 32-bit; a larger file reports null rather than failing the whole query. */
const INT_MAX = 2 ** 31 - 1;

export const Backup: BackupResolvers = {
  sizeBytes: (b) => (b.sizeBytes !== null && b.sizeBytes <= INT_MAX ? b.sizeBytes : null),
};
