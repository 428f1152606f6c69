import type { RequestContext } from '../../../lib/context.js';
import type { AccountService } from './account.service.js';
import type { EventHub } from './events/event.hub.js';
import type { OrderService } from './order.service.js';
import type { TradingLoaders } from './trading.loaders.js';

/** The trading domain, shared by HTTP and WebSocket requests. */
export interface TradingServices {
  orders: OrderService;
  accounts: AccountService;
  hub: EventHub;
  redisPrefix: string;
}

/** Context of the trading subgraph: lib's request context, the trading services and per-request loaders. */
export interface TradingContext extends RequestContext {
  trading: TradingServices;
  loaders: TradingLoaders;
}
