import { DateTimeScalar, DecimalScalar } from '../../../../lib/scalars.js';
import type { Resolvers } from '../generated/resolvers-types.js';
import { IndicatorSet } from './IndicatorSet.js';
import { Instrument } from './Instrument.js';
import { Mover } from './Mover.js';
import { PriceTick } from './PriceTick.js';
import { Query } from './Query.js';
import { Quote } from './Quote.js';
import { Subscription } from './Subscription.js';
import { VolatilityRank } from './VolatilityRank.js';

/** Every resolver of the market-data subgraph. */
export const resolvers: Resolvers = {
  DateTime: DateTimeScalar,
  Decimal: DecimalScalar,
  Query,
  Subscription,
  Instrument,
  Quote,
  PriceTick,
  IndicatorSet,
  Mover,
  VolatilityRank,
};
