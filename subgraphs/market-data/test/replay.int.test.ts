import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, type Redis } from '../../../lib/redis.js';
import type { MarketDataService } from '../src/service.js';
import { decodeTick, type Tick } from '../../../contracts/market-tick.js';
import { createMarketTestEnv, tick, type MarketTestEnv } from './helpers.js';

let env: MarketTestEnv;
let writerSvc: MarketDataService;
let replaySvc: MarketDataService | undefined;
let sub: Redis;
const received: Tick[] = [];
const FROM = Date.UTC(2024, 4, 1, 12);

beforeAll(async () => {
  env = await createMarketTestEnv('md_replay', {
    MARKET_FEED_PROVIDER: 'replay',
    MARKET_FEED_REPLAY_FROM: new Date(FROM).toISOString(),
    MARKET_FEED_REPLAY_TO: new Date(FROM + 60_000).toISOString(),
    MARKET_FEED_REPLAY_SPEED: '100',
    MARKET_FEED_SYMBOLS: 'AAPL,MSFT',
    // The history is from 2024: keep it (maintenance runs when a service starts).
    MARKET_TICK_RETENTION_DAYS: '100000',
  });
  // Stored history: 50 AAPL and 50 MSFT ticks over one minute, plus TSLA (not replayed: not a feed symbol).
  writerSvc = env.service({}, 0);
  await writerSvc.start();
  await writerSvc.runtime().feed?.stop();
  const history: Tick[] = [];
  for (let i = 0; i < 50; i++) {
    history.push(tick(FROM + i * 1_000, (100 + i / 100).toFixed(2), String(i + 1), { seq: 2 * i }));
    history.push(
      tick(FROM + i * 1_000 + 500, (400 - i / 100).toFixed(2), '1', { symbol: 'MSFT', seq: 2 * i + 1 }),
    );
    history.push(tick(FROM + i * 1_000 + 600, '250.00', '1', { symbol: 'TSLA', seq: 1_000 + i }));
  }
  await writerSvc.runtime().writer.writeBatch(history);
  await writerSvc.stop();

  sub = createRedis(env.config, 'subscriber');
  sub.on('pmessage', (_p: string, _c: string, m: string) => {
    const t = decodeTick(m);
    if (t) received.push(t);
  });
  await sub.psubscribe(`${env.config.REDIS_PREFIX}market:ticks:*`);
});

afterAll(async () => {
  await replaySvc?.stop();
  sub?.disconnect();
  await env?.cleanup();
});

describe('replay provider', () => {
  it('plays stored ticks back in order, re-stamped as live', async () => {
    const started = Date.now();
    replaySvc = env.service({ instanceId: 'replayer' }, 0);
    await replaySvc.start();
    const until = Date.now() + 15_000;
    while (received.length < 100 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    const first = received.slice(0, 100);
    expect(first.filter((t) => t.symbol === 'AAPL').map((t) => t.price)).toEqual(
      Array.from({ length: 50 }, (_, i) => (100 + i / 100).toFixed(2)),
    );
    expect(first.filter((t) => t.symbol === 'MSFT')).toHaveLength(50);
    expect(first.some((t) => t.symbol === 'TSLA')).toBe(false);
    for (const t of first) {
      expect(t.producer).toBe('replayer');
      expect(t.ts).toBeGreaterThanOrEqual(started);
    }
  });
});
