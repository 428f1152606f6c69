import { str } from '../decimal.js';
import type { LedgerEntryResolvers } from '../generated/resolvers-types.js';

export const LedgerEntry: LedgerEntryResolvers = {
  id: (l) => String(l.id),
  amount: (l) => str(l.amount),
};
