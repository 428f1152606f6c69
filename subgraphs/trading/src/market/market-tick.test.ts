import { describe, expect, it } from 'vitest';
import { decodeTick, encodeTick } from '../../../../contracts/market-tick.js';
import { SAMPLE_TICK } from '../../../../test/support/ticks.js';
import { decodeMarketTick, encodeMarketTick } from './market-tick.js';

const tick = SAMPLE_TICK;

describe('market ticks in trading', () => {
  it("reads market-data's messages without the producer, and writes them back in the same format", () => {
    const { producer: _producer, ...market } = tick;
    expect(decodeMarketTick(encodeTick(tick))).toEqual(market);
    expect(decodeTick(encodeMarketTick(market, 'p1'))).toEqual(tick);
  });

  it('rejects what lib rejects, and also non-positive prices and out-of-bounds values', () => {
    expect(decodeMarketTick('{"s":"AAPL"}')).toBeNull();
    for (const t of [
      { ...tick, price: '-1' },
      { ...tick, bid: '0' },
      { ...tick, symbol: '' },
      { ...tick, symbol: 'X'.repeat(33) },
      { ...tick, size: `1.${'0'.repeat(21)}` },
    ]) {
      expect(decodeTick(encodeTick(t))).not.toBeNull();
      expect(decodeMarketTick(encodeTick(t))).toBeNull();
    }
    expect(decodeMarketTick('{"s":"AAPL","p":"1","b":"1","a":"1","z":"1","t":1e999,"q":1}')).toBeNull();
  });
});
