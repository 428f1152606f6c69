import { describe, expect, it } from 'vitest';
import { decodeTick, encodeTick } from './market-tick.js';
import { SAMPLE_TICK } from '../test/support/ticks.js';

const tick = SAMPLE_TICK;

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
