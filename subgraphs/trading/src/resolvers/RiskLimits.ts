import { strOrNull } from '../decimal.js';
import type { RiskLimitsResolvers } from '../generated/resolvers-types.js';

export const RiskLimits: RiskLimitsResolvers = {
  maxOrderQuantity: (l) => strOrNull(l.maxOrderQuantity),
  minOrderQuantity: (l) => strOrNull(l.minOrderQuantity),
  maxOrderNotional: (l) => strOrNull(l.maxOrderNotional),
  maxPositionQuantity: (l) => strOrNull(l.maxPositionQuantity),
  maxGrossExposure: (l) => strOrNull(l.maxGrossExposure),
  priceCollarPercent: (l) => strOrNull(l.priceCollarPct),
  allowShortSelling: (l) => l.allowShortSelling,
  maxOrdersPerMinute: (l) => l.maxOrdersPerMinute,
  dailyLossLimit: (l) => strOrNull(l.dailyLossLimit),
  updatedAt: (l) => l.updatedAt,
};
