import type { Tick } from '../../contracts/market-tick.js';

/** One well-formed tick in the shared wire format, for the format's tests on both sides. */
export const SAMPLE_TICK: Tick = {
  symbol: 'AAPL',
  price: '190.50',
  bid: '190.49',
  ask: '190.51',
  size: '100',
  ts: 1_700_000_000_000,
  seq: 7,
  producer: 'p1',
};
