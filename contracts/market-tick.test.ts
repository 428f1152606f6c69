import { describe, expect, it } from 'vitest';
import { decodeTick, encodeTick, type Tick } from './market-tick.js';

const tick: Tick = {
  symbol: 'AAPL',
  price: '190.50',
  bid: '190.49',
  ask: '190.51',
  size: '100',
  ts: 1_700_000_000_000,
  seq: 7,
  producer: 'p1',
};

describe('tick wire format', () => {
  it('round-trips', () => {
    expect(decodeTick(encodeTick(tick))).toEqual(tick);
  });

  it('rejects malformed messages', () => {
    for (const bad of ['', 'null', '[]', '{"s":"AAPL"}', encodeTick({ ...tick, price: '1e3' })]) {
      expect(decodeTick(bad)).toBeNull();
    }
  });
});
