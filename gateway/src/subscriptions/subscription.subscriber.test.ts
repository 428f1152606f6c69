import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createSubscriptionMetrics, type SubscriptionMetrics } from './subscription.metrics.js';
import { SocketSubscriber, type FrameSocket } from './subscription.subscriber.js';

/** A socket whose buffered amount the test sets; it records the frames written. */
class TestSocket implements FrameSocket {
  readyState = 1;
  bufferedAmount = 0;
  readonly frames: string[] = [];
  send(data: string): void {
    this.frames.push(data);
  }
}

async function count(metrics: SubscriptionMetrics, name: 'conflated' | 'dropped'): Promise<number> {
  return (await metrics[name].get()).values[0]?.value ?? 0;
}

const tick = (symbol: string, price: string): { json: string; key: string } => ({
  json: JSON.stringify({ data: { priceUpdated: { symbol, price } } }),
  key: symbol,
});

let metrics: SubscriptionMetrics;
let socket: TestSocket;
let overflowed: number;

function subscriber(opts: { maxPending?: number; maxBehindMs?: number } = {}): SocketSubscriber {
  return new SocketSubscriber(socket, 'sub-"1"', {
    metrics,
    onOverflow: () => void overflowed++,
    highWaterBytes: 1000,
    flushIntervalMs: 10,
    ...opts,
  });
}

beforeEach(() => {
  vi.useFakeTimers();
  metrics = createSubscriptionMetrics(new Registry());
  socket = new TestSocket();
  overflowed = 0;
});

afterEach(() => {
  vi.useRealTimers();
});

describe('SocketSubscriber', () => {
  it('writes a graphql-ws next frame with its own id around the shared payload', () => {
    const s = subscriber();
    s.deliver(tick('AAPL', '1.5'));
    expect(socket.frames).toHaveLength(1);
    expect(JSON.parse(socket.frames[0] ?? '')).toEqual({
      id: 'sub-"1"',
      type: 'next',
      payload: { data: { priceUpdated: { symbol: 'AAPL', price: '1.5' } } },
    });
  });

  it('conflates by key while the socket is behind, then writes the latest values as it drains', async () => {
    const s = subscriber();
    socket.bufferedAmount = 5000;
    s.deliver(tick('AAPL', '1'));
    s.deliver(tick('MSFT', '2'));
    s.deliver(tick('AAPL', '3'));
    expect(socket.frames).toHaveLength(0);
    expect(s.waiting).toBe(2);
    expect(await count(metrics, 'conflated')).toBe(1);
    socket.bufferedAmount = 0;
    vi.advanceTimersByTime(10);
    const prices = socket.frames.map(
      (f) =>
        (JSON.parse(f) as { payload: { data: { priceUpdated: { price: string } } } }).payload.data
          .priceUpdated.price,
    );
    expect(prices).toEqual(['2', '3']);
    expect(s.waiting).toBe(0);
    // Back in step: the next event is written at once.
    s.deliver(tick('AAPL', '4'));
    expect(socket.frames).toHaveLength(3);
  });

  it('keeps events in order behind earlier waiting ones', () => {
    const s = subscriber();
    socket.bufferedAmount = 5000;
    s.deliver(tick('AAPL', '1'));
    socket.bufferedAmount = 0;
    // Not written ahead of the waiting AAPL tick: it waits too, and both go out on the next flush.
    s.deliver(tick('MSFT', '2'));
    expect(socket.frames).toHaveLength(0);
    vi.advanceTimersByTime(10);
    expect(socket.frames).toHaveLength(2);
  });

  it('disconnects a client with too many distinct events waiting', async () => {
    const s = subscriber({ maxPending: 3 });
    const ended = s.next();
    socket.bufferedAmount = 5000;
    // Events without a key never conflate.
    for (let i = 0; i < 4; i++) s.deliver({ json: `{"data":{"n":${i}}}`, key: undefined });
    expect(overflowed).toBe(1);
    expect(await count(metrics, 'dropped')).toBe(4);
    expect(await ended).toEqual({ value: undefined, done: true });
    s.deliver(tick('AAPL', '1'));
    expect(s.waiting).toBe(0);
  });

  it('disconnects a client that stays behind too long', () => {
    const s = subscriber({ maxBehindMs: 100 });
    socket.bufferedAmount = 5000;
    s.deliver(tick('AAPL', '1'));
    vi.advanceTimersByTime(50);
    expect(overflowed).toBe(0);
    vi.advanceTimersByTime(100);
    expect(overflowed).toBe(1);
  });

  it('flushes what waits before completing when the stream ends', async () => {
    const s = subscriber();
    const ended = s.next();
    socket.bufferedAmount = 5000;
    s.deliver(tick('AAPL', '1'));
    s.end();
    expect(socket.frames).toHaveLength(1);
    expect(await ended).toEqual({ value: undefined, done: true });
    expect(await s.next()).toEqual({ value: undefined, done: true });
  });

  it('detaches once on return() and writes nothing afterwards', async () => {
    const s = subscriber();
    let returned = 0;
    s.onReturn = () => void returned++;
    await s.return();
    await s.return();
    s.deliver(tick('AAPL', '1'));
    expect(returned).toBe(1);
    expect(socket.frames).toHaveLength(0);
  });

  it('writes nothing to a socket that is no longer open', () => {
    const s = subscriber();
    socket.readyState = 3;
    s.deliver(tick('AAPL', '1'));
    expect(socket.frames).toHaveLength(0);
  });
});
