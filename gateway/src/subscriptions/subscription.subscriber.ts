import type { ExecutionResult } from 'graphql';
import type { WriteBatch } from '../../../lib/write-batch.js';
import type { SubscriptionMetrics } from './subscription.metrics.js';

/** One event of a shared stream, completed and serialized once for every subscriber of the stream. */
export interface EncodedEvent {
  /** JSON of the graphql-ws `next` payload (`{ data, errors? }`, errors already formatted). */
  json: string;
  /** Conflation key (a tick's symbol, an order's id); events without one never replace each other. */
  key: string | undefined;
}

/** Where a shared stream delivers: one client subscription. */
export interface SubscriptionSink {
  /** Delivers one event (written at once, or queued and conflated while the client is behind). */
  deliver(event: EncodedEvent): void;
  /** The stream ended (upstream completed or failed): flush what waits, then complete. */
  end(): void;
  /** Set by the stream; called once when the client stops (unsubscribed, socket closed, too slow). */
  onReturn: (() => void) | undefined;
}

/** What a {@link SocketSubscriber} needs of a `ws` socket. */
export interface FrameSocket {
  readonly readyState: number;
  /** Bytes waiting to be written (in `ws` and in the kernel-facing socket buffer). */
  readonly bufferedAmount: number;
  send(data: string): void;
}

/** Options of {@link SocketSubscriber}. */
export interface SocketSubscriberOptions {
  metrics: Pick<SubscriptionMetrics, 'conflated' | 'dropped'>;
  /** The socket's write batch, shared by its subscriptions ({@link WriteBatch}). @default none */
  batch?: WriteBatch | undefined;
  /** Called once when the client fell too far behind; the caller closes the socket. */
  onOverflow: () => void;
  /**
   * Bytes buffered on the socket above which events wait (conflated by key) instead of being written.
   * @default 262144
   */
  highWaterBytes?: number;
  /** Distinct events that may wait before the client is disconnected. @default 256 */
  maxPending?: number;
  /** How long events may keep waiting (the client stays behind) before it is disconnected. @default 30000 */
  maxBehindMs?: number;
  /** How often waiting events are retried while the client is behind. @default 20 */
  flushIntervalMs?: number;
  /** Clock in ms. @default Date.now */
  now?: () => number;
}

const OPEN = 1;

/**
 * One client subscription on a gateway socket. graphql-ws' server would serialize every result once
 * per client (`JSON.stringify` of the whole message) and await each write, which at a thousand
 * subscribers is the gateway's limit (BENCHMARKS.md, subscription fan-out). Instead, a shared stream serializes each event once
 * ({@link EncodedEvent}) and this class writes the `next` frame itself: its own message id as a
 * prefix, the shared payload JSON, one `send` without waiting.
 *
 * Backpressure: while the socket has more than `highWaterBytes` buffered, events wait in a map keyed
 * by their conflation key (latest wins, so a slow client gets the latest price per symbol, never a
 * growing backlog); they are written as the buffer drains. A client with more than `maxPending`
 * distinct events waiting, or behind for longer than `maxBehindMs`, is disconnected.
 *
 * To graphql-ws this is the subscription's async iterator: it yields nothing (frames bypass it) and
 * completes when the stream ends, so graphql-ws sends `complete`; its `return()` (client `complete`,
 * socket closed) detaches it from the stream.
 */
export class SocketSubscriber implements SubscriptionSink, AsyncIterableIterator<ExecutionResult> {
  onReturn: (() => void) | undefined;
  private readonly prefix: string;
  private readonly pending = new Map<string, string>();
  private readonly highWater: number;
  private readonly maxPending: number;
  private readonly maxBehindMs: number;
  private readonly flushIntervalMs: number;
  private readonly now: () => number;
  private seq = 0;
  private behindSince: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private finished = false;
  private waiter: ((r: IteratorResult<ExecutionResult>) => void) | undefined;

  /**
   * @param socket the client's socket
   * @param id the graphql-ws message id of this subscription
   */
  constructor(
    private readonly socket: FrameSocket,
    id: string,
    private readonly opts: SocketSubscriberOptions,
  ) {
    this.prefix = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
    this.highWater = opts.highWaterBytes ?? 256 * 1024;
    this.maxPending = opts.maxPending ?? 256;
    this.maxBehindMs = opts.maxBehindMs ?? 30_000;
    this.flushIntervalMs = opts.flushIntervalMs ?? 20;
    this.now = opts.now ?? Date.now;
  }

  /** Events waiting for the socket to drain (for tests). */
  get waiting(): number {
    return this.pending.size;
  }

  deliver(event: EncodedEvent): void {
    if (this.finished || this.socket.readyState !== OPEN) return;
    if (this.pending.size === 0 && this.socket.bufferedAmount < this.highWater) {
      this.opts.batch?.hold();
      this.socket.send(this.prefix + event.json + '}');
      return;
    }
    const key = event.key ?? `#${this.seq++}`;
    if (this.pending.delete(key)) this.opts.metrics.conflated.inc();
    this.pending.set(key, event.json);
    this.behindSince ??= this.now();
    if (this.pending.size > this.maxPending || this.now() - this.behindSince > this.maxBehindMs) {
      this.overflow();
      return;
    }
    this.timer ??= setTimeout(() => this.flush(), this.flushIntervalMs);
  }

  end(): void {
    if (this.finished) return;
    // Whatever waits is bounded (maxPending); the client gets it before `complete`.
    if (this.socket.readyState === OPEN) {
      for (const json of this.pending.values()) this.socket.send(this.prefix + json + '}');
    }
    this.finish();
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    if (this.finished) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  return(): Promise<IteratorResult<ExecutionResult>> {
    this.finish();
    const cb = this.onReturn;
    this.onReturn = undefined;
    cb?.();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private flush(): void {
    this.timer = undefined;
    if (this.finished) return;
    if (this.socket.readyState !== OPEN) return;
    this.opts.batch?.hold();
    for (const [key, json] of this.pending) {
      if (this.socket.bufferedAmount >= this.highWater) break;
      this.pending.delete(key);
      this.socket.send(this.prefix + json + '}');
    }
    if (this.pending.size === 0) {
      this.behindSince = undefined;
      return;
    }
    if (this.behindSince !== undefined && this.now() - this.behindSince > this.maxBehindMs) {
      this.overflow();
      return;
    }
    this.timer = setTimeout(() => this.flush(), this.flushIntervalMs);
  }

  private overflow(): void {
    this.opts.metrics.dropped.inc(this.pending.size);
    this.pending.clear();
    void this.return();
    this.opts.onOverflow();
  }

  private finish(): void {
    this.finished = true;
    this.pending.clear();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const w = this.waiter;
    this.waiter = undefined;
    w?.({ value: undefined, done: true });
  }
}
