import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createSubscriptionMetrics, type SubscriptionMetrics } from './subscription.metrics.js';
import type { Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { WriteBatch } from '../../../lib/write-batch.js';
import { countWrites } from '../../../test/support/socket-writes.js';
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

describe('WriteBatch', () => {
  /** A real WebSocket pair on loopback; counts the system-call-level writes of the server's TCP socket. */
  async function pair(): Promise<{
    server: WebSocket;
    tcp: Socket;
    writes: () => number;
    received: string[];
    close: () => Promise<void>;
  }> {
    vi.useRealTimers();
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => wss.once('listening', r));
    const accepted = new Promise<[WebSocket, Socket]>((resolve) =>
      wss.once('connection', (ws, req) => resolve([ws, req.socket])),
    );
    const { port } = wss.address() as { port: number };
    const client = new WebSocket(`ws://127.0.0.1:${port}`);
    const received: string[] = [];
    client.on('message', (m: Buffer) => received.push(m.toString()));
    await new Promise((r) => client.once('open', r));
    const [server, tcp] = await accepted;
    const writes = countWrites(tcp);
    return {
      server,
      tcp,
      writes,
      received,
      close: async () => {
        client.close();
        await new Promise<void>((r) => wss.close(() => r()));
      },
    };
  }

  it('writes the frames one socket gets in one run of callbacks together', async () => {
    const p = await pair();
    const batch = new WriteBatch(p.tcp, () => true);
    const subs = ['1', '2', '3'].map(
      (id) => new SocketSubscriber(p.server, id, { metrics, onOverflow: () => undefined, batch }),
    );
    for (const sub of subs) sub.deliver(tick('AAPL', '1.00'));
    await new Promise((r) => setImmediate(r));
    expect(p.writes()).toBe(1);
    await vi.waitFor(() => expect(p.received).toHaveLength(3));
    expect(p.received.map((f) => (JSON.parse(f) as { id: string }).id)).toEqual(['1', '2', '3']);
    // The next run starts a new batch.
    for (const sub of subs) sub.deliver(tick('AAPL', '1.01'));
    await new Promise((r) => setImmediate(r));
    expect(p.writes()).toBe(2);
    await p.close();
  });

  it('leaves a socket with one subscription alone: each frame is written at once', async () => {
    const p = await pair();
    const sub = new SocketSubscriber(p.server, '1', {
      metrics,
      onOverflow: () => undefined,
      batch: new WriteBatch(p.tcp, () => false),
    });
    sub.deliver(tick('AAPL', '1.00'));
    sub.deliver(tick('MSFT', '2.00'));
    await new Promise((r) => setImmediate(r));
    // ws corks around each frame's header and payload itself: one write per frame.
    expect(p.writes()).toBe(2);
    await vi.waitFor(() => expect(p.received).toHaveLength(2));
    await p.close();
  });
});
