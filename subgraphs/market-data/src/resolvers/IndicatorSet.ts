import type { IndicatorSetResolvers } from '../generated/resolvers-types.js';

export const IndicatorSet: IndicatorSetResolvers = {
  sma: (set, { period }, ctx) => ctx.market.indicators.sma(set, period),
  ema: (set, { period }, ctx) => ctx.market.indicators.ema(set, period),
  rsi: (set, { period }, ctx) => ctx.market.indicators.rsi(set, period),
  macd: (set, args, ctx) => ctx.market.indicators.macd(set, args),
  bollinger: (set, args, ctx) => ctx.market.indicators.bollinger(set, args),
  atr: (set, { period }, ctx) => ctx.market.indicators.atr(set, period),
  vwap: (set, _args, ctx) => ctx.market.indicators.vwap(set),
  volatility: (set, { period }, ctx) => ctx.market.indicators.volatility(set, period),
};
