/**
 * Fan-out of Redis pub/sub to local listeners over ONE dedicated subscriber connection: a channel is
 * subscribed while at least one local listener wants it, and each message is decoded once, however
 * many listeners receive it. {@link boundedIterator} turns a listener into the async iterator a
 * GraphQL subscription resolver returns.
 */
import { subscribeThroughFailover, type Redis } from './redis.js';

/** Receives the decoded messages of the channels it listens to. */
export type FanoutListener<T> = (value: T) => void;

/** Stops listening; idempotent. */
export type Unlisten = () => Promise<void>;

/** Pub/sub fan-out over one subscriber connection (see the module comment). */
export class RedisFanout<T> {
  private readonly listeners = new Map<string, Set<FanoutListener<T>>>();

  /**
   * @param subscriber a dedicated subscriber client (nothing else may SUBSCRIBE or UNSUBSCRIBE the
   *   channels given to {@link listen} on it)
   * @param decode turns a message into the value listeners receive; `undefined` drops the message
   *   (decoding runs only when some listener wants the channel)
   */
  constructor(
    private readonly subscriber: Redis,
    private readonly decode: (channel: string, message: string) => T | undefined,
  ) {
    subscriber.on('message', (channel: string, message: string) => {
      const set = this.listeners.get(channel);
      if (!set || set.size === 0) return;
      const value = this.decode(channel, message);
      if (value === undefined) return;
      for (const l of set) l(value);
    });
  }

  /**
   * Subscribes `listener` to `channels` (the new ones in a single SUBSCRIBE).
   * @returns a function that unsubscribes (idempotent); channels nobody wants any more are released
   */
  async listen(channels: readonly string[], listener: FanoutListener<T>): Promise<Unlisten> {
    const fresh: string[] = [];
    for (const ch of channels) {
      let set = this.listeners.get(ch);
      if (!set) {
        set = new Set();
        this.listeners.set(ch, set);
        fresh.push(ch);
      }
      set.add(listener);
    }
    if (fresh.length > 0) {
      try {
        await subscribeThroughFailover(this.subscriber, fresh);
      } catch (err) {
        // Never subscribed: a listener left behind would make the channel look subscribed to every
        // later listener, which would then wait for messages that never come.
        for (const ch of channels) {
          const set = this.listeners.get(ch);
          set?.delete(listener);
          if (set?.size === 0) this.listeners.delete(ch);
        }
        throw err;
      }
    }
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      const stale: string[] = [];
      for (const ch of channels) {
        const set = this.listeners.get(ch);
        if (!set) continue;
        set.delete(listener);
        if (set.size === 0) {
          this.listeners.delete(ch);
          stale.push(ch);
        }
      }
      if (stale.length > 0) await this.subscriber.unsubscribe(...stale).catch(() => undefined);
    };
  }
}

/** Options of {@link boundedIterator}. */
export interface BoundedIteratorOptions<T> {
  /** Starts delivering values to `push`; resolves with the function that stops it. */
  listen: (push: (value: T) => void) => Promise<Unlisten>;
  /** Values a slow consumer may have queued before the oldest are dropped. */
  max: number;
  /** Called once per dropped value (a metric). */
  onDrop?: () => void;
  /** Counts open iterators: `inc()` once listening, `dec()` once closed. */
  gauge?: { inc(): void; dec(): void };
}

/**
 * An async iterator of the values `listen` delivers, for a GraphQL subscription resolver. The queue is
 * bounded (`max`); a consumer that falls behind loses the oldest values. `return()` (the client
 * unsubscribed or went away) stops listening.
 */
export async function boundedIterator<T>(opts: BoundedIteratorOptions<T>): Promise<AsyncIterableIterator<T>> {
  const queue: T[] = [];
  let waiting: ((r: IteratorResult<T>) => void) | undefined;
  let closed = false;
  const unlisten = await opts.listen((value) => {
    if (closed) return;
    if (waiting) {
      const w = waiting;
      waiting = undefined;
      w({ value, done: false });
      return;
    }
    if (queue.length >= opts.max) {
      queue.shift();
      opts.onDrop?.();
    }
    queue.push(value);
  });
  opts.gauge?.inc();
  const close = async (): Promise<IteratorResult<T>> => {
    if (!closed) {
      closed = true;
      opts.gauge?.dec();
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
