import { DateTimeScalar, DecimalScalar } from '../../../../lib/scalars.js';
import type { Resolvers } from '../generated/resolvers-types.js';
import { JSONScalar } from '../json.scalar.js';
import { Account } from './Account.js';
import { Instrument } from './Instrument.js';
import { LedgerEntry } from './LedgerEntry.js';
import { Mutation } from './Mutation.js';
import { Order } from './Order.js';
import { OrderEvent } from './OrderEvent.js';
import { OrderPreview } from './OrderPreview.js';
import { Position } from './Position.js';
import { Query } from './Query.js';
import { RiskLimits } from './RiskLimits.js';
import { Subscription } from './Subscription.js';
import { Trade } from './Trade.js';

/** Every resolver of the trading subgraph. */
export const resolvers: Resolvers = {
  DateTime: DateTimeScalar,
  Decimal: DecimalScalar,
  JSON: JSONScalar,
  Query,
  Mutation,
  Subscription,
  Account,
  Position,
  Order,
  OrderEvent,
  Trade,
  LedgerEntry,
  RiskLimits,
  OrderPreview,
  Instrument,
};
