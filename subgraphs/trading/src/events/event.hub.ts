/**
 * Fans Redis pub/sub messages out to local subscribers over one subscriber connection (lib's
 * {@link RedisFanout}): a channel is subscribed while at least one local listener wants it. Used by the
 * GraphQL subscriptions (orderUpdated, tradeExecuted) and shared with the engine's tick and book
 * channels, which register their own listeners.
 */
import { boundedIterator, RedisFanout, type Unlisten } from '../../../../lib/redis-fanout.js';
import type { Redis } from '../../../../lib/redis.js';
import type { TradingMetrics } from '../trading.metrics.js';

type Listener = (message: string) => void;

/** Events a slow subscriber may have queued before the oldest are dropped. */
export const SUBSCRIBER_QUEUE_MAX = 1_000;

export class EventHub {
  private readonly fanout: RedisFanout<string>;

  constructor(
    subscriber: Redis,
    private readonly metrics: TradingMetrics,
  ) {
    // Messages reach listeners raw: each one decodes its channel's format.
    this.fanout = new RedisFanout(subscriber, (_channel, message) => message);
  }

  /**
   * Listens to a channel.
   * @returns a function that stops listening (idempotent)
   */
  listen(channel: string, listener: Listener): Promise<Unlisten> {
    return this.fanout.listen([channel], listener);
  }

  /**
   * An async iterator of a channel's messages decoded by `decode` (null results are skipped), for a
   * GraphQL subscription resolver. The queue is bounded; `return()` (the client went away) releases
   * the channel.
   */
  iterate<T>(channel: string, decode: (message: string) => T | null): Promise<AsyncIterableIterator<T>> {
    return boundedIterator<T>({
      listen: (push) =>
        this.listen(channel, (message) => {
          const value = decode(message);
          if (value !== null) push(value);
        }),
      max: SUBSCRIBER_QUEUE_MAX,
      gauge: this.metrics.subscriptions,
    });
  }
}
