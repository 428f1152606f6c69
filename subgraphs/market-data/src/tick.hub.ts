import type { Logger } from '../../../lib/logger.js';
import { boundedIterator, RedisFanout, type Unlisten } from '../../../lib/redis-fanout.js';
import { type Redis } from '../../../lib/redis.js';
import { channels } from '../../../contracts/redis-names.js';
import { observeFeedLag, type MarketMetrics } from './market.metrics.js';
import { decodeTick, type Tick } from '../../../contracts/market-tick.js';

type Listener = (tick: Tick) => void;

/** Ticks a slow subscriber may have queued before the oldest are dropped. */
export const SUBSCRIBER_QUEUE_MAX = 1_000;

/**
 * Fans ticks from Redis out to local subscribers over ONE dedicated subscriber connection: a Redis
 * channel per symbol is subscribed while at least one local subscriber wants it, and each message is
 * parsed once, however many subscribers receive it (lib's {@link RedisFanout}).
 */
export class TickHub {
  private readonly fanout: RedisFanout<Tick>;

  constructor(
    subscriber: Redis,
    private readonly redisPrefix: string,
    private readonly metrics: MarketMetrics,
    logger: Logger,
  ) {
    const base = channels.marketTicks(redisPrefix, '');
    this.fanout = new RedisFanout(subscriber, (channel, message) => {
      const tick = decodeTick(message);
      // A tick must be about the symbol its channel names.
      if (!tick || base + tick.symbol !== channel) {
        logger.warn({ channel }, 'malformed tick ignored');
        return undefined;
      }
      observeFeedLag(this.metrics, 'arrival', [tick]);
      return tick;
    });
  }

  /**
   * Subscribes `listener` to the ticks of `symbols`.
   * @returns a function that unsubscribes (idempotent)
   */
  listen(symbols: readonly string[], listener: Listener): Promise<Unlisten> {
    return this.fanout.listen(
      symbols.map((s) => channels.marketTicks(this.redisPrefix, s)),
      listener,
    );
  }

  /**
   * An async iterator of the ticks of `symbols`, for a GraphQL subscription resolver. The queue is
   * bounded ({@link SUBSCRIBER_QUEUE_MAX}); a consumer that falls behind loses the oldest ticks.
   * `return()` (client unsubscribed or disconnected) releases the Redis channels.
   */
  iterate(symbols: readonly string[]): Promise<AsyncIterableIterator<Tick>> {
    return boundedIterator<Tick>({
      listen: (push) => this.listen(symbols, push),
      max: SUBSCRIBER_QUEUE_MAX,
      onDrop: () => this.metrics.subscriptionEventsDropped.inc(),
      gauge: this.metrics.subscriptions,
    });
  }
}
