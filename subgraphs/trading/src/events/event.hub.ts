/**
 * Fans Redis pub/sub messages out to local subscribers over one subscriber connection: a channel is
 * subscribed while at least one local listener wants it, and each message is parsed once. Used by the
 * GraphQL subscriptions (orderUpdated, tradeExecuted) and shared with the engine's tick and book
 * channels, which register their own listeners.
 */
import type { Redis } from '../../../../lib/redis.js';
import type { TradingMetrics } from '../trading.metrics.js';

type Listener = (message: string) => void;

/** Events a slow subscriber may have queued before the oldest are dropped. */
export const SUBSCRIBER_QUEUE_MAX = 1_000;

export class EventHub {
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(
    private readonly subscriber: Redis,
    private readonly metrics: TradingMetrics,
  ) {
    subscriber.on('message', (channel: string, message: string) => {
      const set = this.listeners.get(channel);
      if (!set) return;
      for (const l of set) l(message);
    });
  }

  /**
   * Listens to a channel.
   * @returns a function that stops listening (idempotent)
   */
  async listen(channel: string, listener: Listener): Promise<() => Promise<void>> {
    let set = this.listeners.get(channel);
    const fresh = !set;
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
    }
    set.add(listener);
    if (fresh) await this.subscriber.subscribe(channel);
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      const s = this.listeners.get(channel);
      if (!s) return;
      s.delete(listener);
      if (s.size === 0) {
        this.listeners.delete(channel);
        await this.subscriber.unsubscribe(channel).catch(() => undefined);
      }
    };
  }

  /**
   * An async iterator of a channel's messages decoded by `decode` (null results are skipped), for a
   * GraphQL subscription resolver. The queue is bounded; `return()` (the client went away) releases
   * the channel.
   */
  async iterate<T>(
    channel: string,
    decode: (message: string) => T | null,
  ): Promise<AsyncIterableIterator<T>> {
    const queue: T[] = [];
    let waiting: ((r: IteratorResult<T>) => void) | undefined;
    let closed = false;
    const unlisten = await this.listen(channel, (message) => {
      if (closed) return;
      const value = decode(message);
      if (value === null) return;
      if (waiting) {
        const w = waiting;
        waiting = undefined;
        w({ value, done: false });
        return;
      }
      if (queue.length >= SUBSCRIBER_QUEUE_MAX) queue.shift();
      queue.push(value);
    });
    this.metrics.subscriptions.inc();
    const close = async (): Promise<IteratorResult<T>> => {
      if (!closed) {
        closed = true;
        this.metrics.subscriptions.dec();
        queue.length = 0;
        if (waiting) waiting({ value: undefined, done: true });
        waiting = undefined;
        await unlisten();
      }
      return { value: undefined, done: true };
    };
    const iterator: AsyncIterableIterator<T> = {
      next: () => {
        if (closed) return Promise.resolve({ value: undefined, done: true });
        if (queue.length > 0) return Promise.resolve({ value: queue.shift() as T, done: false });
        return new Promise((resolve) => {
          waiting = resolve;
        });
      },
      return: close,
      throw: async (err: unknown) => {
        await close();
        throw err;
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }
}
