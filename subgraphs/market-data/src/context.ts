import type { RequestContext } from '../../../lib/context.js';
import { unauthenticated } from '../../../lib/errors.js';
import type { CandleService } from './candle.service.js';
import type { IndicatorService } from './indicator.service.js';
import type { InstrumentCatalog } from './instrument.catalog.js';
import type { QuoteStore } from './quote.store.js';
import type { SummaryService } from './summary.service.js';
import type { TickHub } from './tick.hub.js';

/** The market-data domain, shared by HTTP and WebSocket requests. */
export interface MarketDataServices {
  catalog: InstrumentCatalog;
  quotes: QuoteStore;
  candles: CandleService;
  indicators: IndicatorService;
  summary: SummaryService;
  hub: TickHub;
}

/** Context of the market-data subgraph: lib's request context plus the market services. */
export interface MarketDataContext extends RequestContext {
  market: MarketDataServices;
}

/**
 * Market data is platform-wide (no tenant scope) but not public: any authenticated user, or another
 * service with the service token, may read it.
 * @throws AppError UNAUTHENTICATED otherwise
 */
export function requireCaller(ctx: RequestContext): void {
  if (!ctx.auth && !ctx.service) throw unauthenticated();
}
