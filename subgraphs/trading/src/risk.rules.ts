/**
 * Pre-trade risk checks: a pure function of the order, the instrument, the latest quote and the
 * account's state; each failing check yields a reason stored on the REJECTED order, an accepted order
 * the cash it must reserve while open. Buying power = cash - reserved - short margin (|short qty| *
 * average price * rate). A buy reserves quantity * reference price (fee included) except the part that
 * covers a short; a short sale reserves the extra margin it ties up (rate - 1) plus fees. Fills
 * re-check the same invariants (account-session.ts), whatever the fill price.
 */
import { Dec, moneyUp, str } from './decimal.js';
import { freshQuote, marketFillPrice } from './execution/matching.js';
import type { EffectiveLimits } from './risk-limits.js';
import type { InstrumentInfo } from './market/instrument.catalog.js';
import type { MarketTick } from './market/market-tick.js';
import {
  STOP_RESERVE_BUFFER,
  feeFor,
  sideSign,
  type OrderIntent,
  type PricingConfig,
  type RejectReason,
  type TradingState,
} from './order.types.js';

export interface RiskContext {
  instrument: InstrumentInfo | undefined;
  accountCurrency: string;
  /** Latest quote of the symbol (null: none). */
  quote: MarketTick | null;
  now: number;
  tradingState: TradingState;
  cash: Dec;
  reserved: Dec;
  shortMargin: Dec;
  limits: EffectiveLimits;
  /** Current position in the symbol. */
  position: { quantity: Dec; averagePrice: Dec };
  /** Remaining quantity of the account's other open orders in the symbol, by side. */
  openBuy: Dec;
  openSell: Dec;
  /** Sum of |quantity * mark| over the account's positions. */
  grossExposure: Dec;
  /** Orders submitted in the current minute, this one included. */
  ordersThisMinute: number;
  pricing: PricingConfig;
}

export interface RiskRejection {
  reason: RejectReason;
  message: string;
  detail: Record<string, unknown>;
}

export interface RiskDecision {
  rejection: RiskRejection | null;
  /** Reference price: what the order is expected to trade at (or its limit/stop price). */
  estimatedPrice: Dec | null;
  estimatedNotional: Dec | null;
  estimatedFee: Dec | null;
  /** Cash reserved per unit and how many units carry it. */
  reservePrice: Dec;
  reserveUnits: Dec;
  reservation: Dec;
  buyingPower: Dec;
}

function reject(reason: RejectReason, message: string, detail: Record<string, unknown> = {}): RiskRejection {
  return { reason, message, detail };
}

/** Runs every check in order; the first failure is the rejection. */
export function evaluateRisk(order: OrderIntent, ctx: RiskContext): RiskDecision {
  const buyingPower = ctx.cash.sub(ctx.reserved).sub(ctx.shortMargin);
  const quote = freshQuote(ctx.quote, ctx.now, ctx.pricing.maxQuoteAgeMs);
  const base = {
    estimatedPrice: null,
    estimatedNotional: null,
    estimatedFee: null,
    reservePrice: new Dec(0),
    reserveUnits: new Dec(0),
    reservation: new Dec(0),
    buyingPower,
  };
  const fail = (r: RiskRejection, extra: Partial<RiskDecision> = {}): RiskDecision => ({
    ...base,
    ...extra,
    rejection: r,
  });

  if (ctx.tradingState === 'HALTED') {
    return fail(reject('TRADING_HALTED', 'The account is halted: no new orders are accepted'));
  }
  const max = ctx.limits.maxOrdersPerMinute;
  if (max !== null && ctx.ordersThisMinute > max) {
    return fail(
      reject('ORDER_RATE_EXCEEDED', `At most ${max} orders per minute`, { maxOrdersPerMinute: max }),
    );
  }
  const instrument = ctx.instrument;
  if (!instrument) return fail(reject('UNKNOWN_INSTRUMENT', `Unknown symbol ${order.symbol.slice(0, 32)}`));
  if (!instrument.tradable) {
    return fail(reject('INSTRUMENT_NOT_TRADABLE', `${instrument.symbol} is not tradable`));
  }
  if (instrument.currency !== ctx.accountCurrency) {
    return fail(
      reject('CURRENCY_MISMATCH', `${instrument.symbol} trades in ${instrument.currency}`, {
        instrumentCurrency: instrument.currency,
        accountCurrency: ctx.accountCurrency,
      }),
    );
  }
  const lot = new Dec(instrument.lotSize);
  const tick = new Dec(instrument.tickSize);
  if (!lot.isZero() && !order.quantity.mod(lot).isZero()) {
    return fail(
      reject('INVALID_LOT_SIZE', `Quantity must be a multiple of the lot size ${str(lot)}`, {
        lotSize: str(lot),
      }),
    );
  }
  for (const [field, p] of [
    ['limitPrice', order.limitPrice],
    ['stopPrice', order.stopPrice],
  ] as const) {
    if (p && !tick.isZero() && !p.mod(tick).isZero()) {
      return fail(
        reject('INVALID_TICK_SIZE', `${field} must be a multiple of the tick size ${str(tick)}`, {
          field,
          tickSize: str(tick),
        }),
      );
    }
  }
  const minQty = ctx.limits.minOrderQuantity;
  if (minQty && order.quantity.lt(minQty)) {
    return fail(
      reject('QUANTITY_BELOW_MINIMUM', `Quantity is below the minimum ${str(minQty)}`, {
        minOrderQuantity: str(minQty),
      }),
    );
  }
  const maxQty = ctx.limits.maxOrderQuantity;
  if (maxQty && order.quantity.gt(maxQty)) {
    return fail(
      reject('QUANTITY_ABOVE_MAXIMUM', `Quantity is above the maximum ${str(maxQty)}`, {
        maxOrderQuantity: str(maxQty),
      }),
    );
  }

  // Reference price: where the order is expected to trade (market) or the price it names.
  let refPrice: Dec;
  let reservePerUnitPrice: Dec;
  switch (order.type) {
    case 'MARKET': {
      if (!quote) {
        return fail(
          reject(
            'NO_MARKET_DATA',
            ctx.quote ? 'The last quote is too old to price a market order' : 'No quote for this symbol yet',
          ),
        );
      }
      refPrice = marketFillPrice(order.side, order.quantity, quote, tick, ctx.pricing);
      reservePerUnitPrice = refPrice;
      break;
    }
    case 'LIMIT':
    case 'STOP_LIMIT': {
      const limit = order.limitPrice as Dec;
      refPrice = limit;
      if (order.type === 'LIMIT' && quote) {
        // A marketable limit order trades at the touch, never beyond its limit.
        const touch = new Dec(order.side === 'BUY' ? quote.ask : quote.bid);
        if (order.side === 'BUY' ? touch.lte(limit) : touch.gte(limit)) refPrice = touch;
      }
      reservePerUnitPrice = limit;
      break;
    }
    case 'STOP': {
      const stop = order.stopPrice as Dec;
      refPrice = stop;
      // Triggered stops fill as market orders, possibly through the stop price.
      reservePerUnitPrice = order.side === 'BUY' ? stop.mul(new Dec(1).add(STOP_RESERVE_BUFFER)) : stop;
      break;
    }
  }

  const collar = ctx.limits.priceCollarPct;
  if (collar && quote) {
    const last = new Dec(quote.price);
    for (const [field, p] of [
      ['limitPrice', order.limitPrice],
      ['stopPrice', order.stopPrice],
    ] as const) {
      if (p && p.sub(last).abs().gt(last.mul(collar))) {
        return fail(
          reject(
            'PRICE_OUTSIDE_COLLAR',
            `${field} is more than ${str(collar.mul(100))} % from the last price`,
            {
              field,
              lastPrice: str(last),
              collarPercent: str(collar),
            },
          ),
        );
      }
    }
  }

  const notional = order.quantity.mul(refPrice);
  const fee = feeFor(notional, ctx.pricing);
  const estimates = { estimatedPrice: refPrice, estimatedNotional: notional, estimatedFee: fee };
  const maxNotional = ctx.limits.maxOrderNotional;
  if (maxNotional && notional.gt(maxNotional)) {
    return fail(
      reject('MAX_NOTIONAL_EXCEEDED', `Order value exceeds ${str(maxNotional)}`, {
        notional: str(notional),
        maxOrderNotional: str(maxNotional),
      }),
      estimates,
    );
  }

  const pos = ctx.position.quantity;
  const signed = order.quantity.mul(sideSign(order.side));
  if (ctx.tradingState === 'REDUCING') {
    const reduces =
      order.side === 'BUY'
        ? pos.lt(0) && ctx.openBuy.add(order.quantity).lte(pos.neg())
        : pos.gt(0) && ctx.openSell.add(order.quantity).lte(pos);
    if (!reduces) {
      return fail(
        reject('REDUCE_ONLY', 'The account accepts only orders that reduce a position', {
          position: str(pos),
        }),
        estimates,
      );
    }
  }

  // Short selling: the part of a sell not covered by the long position (net of other open sells).
  const availableLong = Dec.max(0, pos.sub(ctx.openSell));
  const shortQty = order.side === 'SELL' ? Dec.max(0, order.quantity.sub(availableLong)) : new Dec(0);
  if (shortQty.gt(0) && !ctx.limits.allowShortSelling) {
    return fail(
      reject('SHORT_SELLING_NOT_ALLOWED', 'Selling more than the position held is not allowed', {
        position: str(pos),
        openSellQuantity: str(ctx.openSell),
      }),
      estimates,
    );
  }

  const maxPos = ctx.limits.maxPositionQuantity;
  if (maxPos) {
    const projected =
      order.side === 'BUY'
        ? pos.add(ctx.openBuy).add(order.quantity)
        : pos.sub(ctx.openSell).sub(order.quantity);
    if (projected.abs().gt(maxPos) && projected.abs().gt(pos.abs())) {
      return fail(
        reject('POSITION_LIMIT_EXCEEDED', `The position would exceed ${str(maxPos)}`, {
          projectedPosition: str(projected),
          maxPositionQuantity: str(maxPos),
        }),
        estimates,
      );
    }
  }

  const maxGross = ctx.limits.maxGrossExposure;
  if (maxGross) {
    const delta = pos.add(signed).abs().sub(pos.abs()).mul(refPrice);
    if (delta.gt(0) && ctx.grossExposure.add(delta).gt(maxGross)) {
      return fail(
        reject('EXPOSURE_LIMIT_EXCEEDED', `Gross exposure would exceed ${str(maxGross)}`, {
          grossExposure: str(ctx.grossExposure),
          orderExposure: str(delta),
          maxGrossExposure: str(maxGross),
        }),
        estimates,
      );
    }
  }

  // Reservation (see the module comment).
  const feePerUnit = order.quantity.isZero()
    ? new Dec(0)
    : feeFor(order.quantity.mul(reservePerUnitPrice), ctx.pricing).div(order.quantity);
  let reserveUnits: Dec;
  let reservePrice: Dec;
  if (order.side === 'BUY') {
    const coverable = Dec.max(0, Dec.min(order.quantity, pos.neg().sub(ctx.openBuy)));
    reserveUnits = order.quantity.sub(coverable);
    reservePrice = reservePerUnitPrice.add(feePerUnit);
  } else {
    reserveUnits = shortQty;
    reservePrice = reservePerUnitPrice.mul(ctx.pricing.shortMarginRate.sub(1)).add(feePerUnit);
  }
  reservePrice = reservePrice.toDecimalPlaces(10, Dec.ROUND_UP);
  const reservation = moneyUp(reserveUnits.mul(reservePrice));
  if (reservation.gt(buyingPower)) {
    return fail(
      reject('INSUFFICIENT_BUYING_POWER', 'Not enough buying power for this order', {
        required: str(reservation),
        buyingPower: str(buyingPower),
      }),
      { ...estimates, reservePrice, reserveUnits, reservation },
    );
  }
  return { ...base, ...estimates, rejection: null, reservePrice, reserveUnits, reservation };
}
