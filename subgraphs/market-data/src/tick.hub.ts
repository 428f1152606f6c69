import { channels, type Redis } from '../../../lib/redis.js';
import type { Logger } from '../../../lib/logger.js';
import type { MarketMetrics } from './market.metrics.js';
import { decodeTick, type Tick } from './tick.js';

type Listener = (tick: Tick) => void;

/** Ticks a slow subscriber may have queued before the oldest are dropped. */
export const SUBSCRIBER_QUEUE_MAX = 1_000;

/**
 * Fans ticks from Redis out to local subscribers over ONE dedicated subscriber connection: a Redis
 * channel per symbol is subscribed while at least one local subscriber wants it, and each message is
 * parsed once, however many subscribers receive it.
 */
export class TickHub {
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly channelToSymbol = new Map<string, string>();

  constructor(
    private readonly subscriber: Redis,
    private readonly redisPrefix: string,
    private readonly metrics: MarketMetrics,
    private readonly logger: Logger,
  ) {
    subscriber.on('message', (channel: string, message: string) => {
      const symbol = this.channelToSymbol.get(channel);
      if (symbol === undefined) return;
      const set = this.listeners.get(symbol);
      if (!set || set.size === 0) return;
      const tick = decodeTick(message);
      if (!tick || tick.symbol !== symbol) {
        this.logger.warn({ channel }, 'malformed tick ignored');
        return;
      }
      for (const l of set) l(tick);
    });
  }

  /**
   * Subscribes `listener` to the ticks of `symbols`.
   * @returns a function that unsubscribes (idempotent)
   */
  async listen(symbols: readonly string[], listener: Listener): Promise<() => Promise<void>> {
    const fresh: string[] = [];
    for (const s of symbols) {
      let set = this.listeners.get(s);
      if (!set) {
        set = new Set();
        this.listeners.set(s, set);
        const ch = channels.marketTicks(this.redisPrefix, s);
        this.channelToSymbol.set(ch, s);
        fresh.push(ch);
      }
      set.add(listener);
    }
    if (fresh.length > 0) await this.subscriber.subscribe(...fresh);
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      const stale: string[] = [];
      for (const s of symbols) {
        const set = this.listeners.get(s);
        if (!set) continue;
        set.delete(listener);
        if (set.size === 0) {
          this.listeners.delete(s);
          const ch = channels.marketTicks(this.redisPrefix, s);
          this.channelToSymbol.delete(ch);
          stale.push(ch);
        }
      }
      if (stale.length > 0) await this.subscriber.unsubscribe(...stale).catch(() => undefined);
    };
  }

  /**
   * An async iterator of the ticks of `symbols`, for a GraphQL subscription resolver. The queue is
   * bounded ({@link SUBSCRIBER_QUEUE_MAX}); a consumer that falls behind loses the oldest ticks.
   * `return()` (client unsubscribed or disconnected) releases the Redis channels.
   */
  async iterate(symbols: readonly string[]): Promise<AsyncIterableIterator<Tick>> {
    const queue: Tick[] = [];
    let waiting: ((r: IteratorResult<Tick>) => void) | undefined;
    let closed = false;
    const unlisten = await this.listen(symbols, (tick) => {
      if (closed) return;
      if (waiting) {
        const w = waiting;
        waiting = undefined;
        w({ value: tick, done: false });
        return;
      }
      if (queue.length >= SUBSCRIBER_QUEUE_MAX) {
        queue.shift();
        this.metrics.subscriptionEventsDropped.inc();
      }
      queue.push(tick);
    });
    this.metrics.subscriptions.inc();
    const close = async (): Promise<IteratorResult<Tick>> => {
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
    const iterator: AsyncIterableIterator<Tick> = {
      next: () => {
        if (closed) return Promise.resolve({ value: undefined, done: true });
        const head = queue.shift();
        if (head) return Promise.resolve({ value: head, done: false });
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
