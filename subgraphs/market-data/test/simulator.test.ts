import { describe, expect, it } from 'vitest';
import { aggregateMinuteBars } from '../src/bar.aggregate.js';
import { Dec, vwapOf } from '../src/decimal.js';
import { Prng } from '../src/feed/prng.js';
import { GbmSimulator } from '../src/feed/simulator.js';
import { decodeTick, encodeTick, type Tick } from '../../../contracts/market-tick.js';
import { SIMULATED } from './instruments.js';

const INSTRUMENTS = [SIMULATED.AAPL, SIMULATED.EURUSD, SIMULATED.BTCUSD];

function run(seed: number, n: number, instruments = INSTRUMENTS): Omit<Tick, 'ts'>[] {
  const sim = new GbmSimulator(instruments, { seed, ticksPerSecond: 1000, producer: 'p' });
  // Timestamps differ between runs on purpose: values must not depend on them.
  return Array.from({ length: n }, (_, i) => {
    const { ts: _ts, ...rest } = sim.next(Date.now() + i * 7);
    return rest;
  });
}

describe('GbmSimulator', () => {
  it('is deterministic for a seed, whatever the order of instruments and the timestamps', () => {
    const a = run(7, 2_000);
    const b = run(7, 2_000, [...INSTRUMENTS].reverse());
    expect(b).toEqual(a);
  });

  it('produces different paths for different seeds', () => {
    expect(run(8, 200)).not.toEqual(run(7, 200));
  });

  it('keeps bid < ask on the tick grid, trades at bid or ask, sizes in whole lots', () => {
    const ticks = run(11, 5_000);
    const bySymbol = new Map(INSTRUMENTS.map((i) => [i.symbol, i]));
    const seen = new Set<string>();
    // Checked with plain comparisons and one assertion: 5,000 ticks x 10 expect() calls took seconds
    // of CPU, enough to time out on a loaded machine.
    const problems: string[] = [];
    for (const t of ticks) {
      const inst = bySymbol.get(t.symbol)!;
      seen.add(t.symbol);
      const bid = new Dec(t.bid);
      const ask = new Dec(t.ask);
      const size = new Dec(t.size);
      const checks: [boolean, string][] = [
        [bid.lt(ask), 'bid < ask'],
        [bid.gt(0), 'bid > 0'],
        [bid.mod(inst.tickSize).isZero(), 'bid on the tick grid'],
        [ask.mod(inst.tickSize).isZero(), 'ask on the tick grid'],
        [t.price === t.bid || t.price === t.ask, 'trades at bid or ask'],
        [(t.price.split('.')[1]?.length ?? 0) === inst.priceDecimals, 'price decimals'],
        [size.gt(0), 'size > 0'],
        [size.mod(inst.lotSize).isZero(), 'size in whole lots'],
      ];
      for (const [ok, what] of checks)
        if (!ok) problems.push(`${t.symbol} #${t.seq}: ${what} (${JSON.stringify(t)})`);
    }
    expect(problems.slice(0, 5)).toEqual([]);
    expect(seen.size).toBe(INSTRUMENTS.length);
    // Sequence numbers strictly increase.
    expect(ticks.findIndex((t, i) => i > 0 && t.seq <= ticks[i - 1]!.seq)).toBe(-1);
  });

  it('moves prices with roughly the configured volatility', () => {
    const sim = new GbmSimulator([{ ...INSTRUMENTS[2]!, drift: 0, volatility: 0.6, spreadBps: 0 }], {
      seed: 3,
      ticksPerSecond: 1 / 3600, // one tick per simulated hour
      producer: 'p',
    });
    const prices = Array.from({ length: 5_000 }, () => Math.log(Number(sim.next(0).bid)));
    const returns = prices.slice(1).map((p, i) => p - prices[i]!);
    const mean = returns.reduce((a, b) => a + b, 0) / returns.length;
    const sd = Math.sqrt(returns.reduce((a, b) => a + (b - mean) ** 2, 0) / (returns.length - 1));
    const annualized = sd * Math.sqrt(365.25 * 24);
    expect(annualized).toBeGreaterThan(0.5);
    expect(annualized).toBeLessThan(0.7);
  });
});

/** The first draws of seed 7 (pure-rand 8's xoroshiro128+ after the discarded warm-up). */
const PINNED_SEED_7 = [0.8566401050239211, 0.7763626317848007, 904, 1.1076950073991834];

describe('Prng', () => {
  it('repeats for a seed and stays in [0, 1)', () => {
    const a = new Prng(42);
    const b = new Prng(42);
    for (let i = 0; i < 1_000; i++) {
      const x = a.next();
      expect(x).toBe(b.next());
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
  });

  it('pins the sequence of a seed (a library upgrade that changes it shows here)', () => {
    const rng = new Prng(7);
    const seen = [rng.next(), rng.next(), rng.int(1_000), rng.normal()];
    expect(seen).toEqual(PINNED_SEED_7);
  });
});

describe('aggregateMinuteBars', () => {
  const tick = (ts: number, price: string, size: string, seq: number): Tick => ({
    symbol: 'AAPL',
    price,
    bid: price,
    ask: price,
    size,
    ts,
    seq,
    producer: 'p',
  });

  it('aggregates exactly, in any order, with open and close by time', () => {
    const t0 = Date.UTC(2024, 0, 2, 10, 0, 0);
    const ticks = [
      tick(t0 + 30_000, '100.02', '3', 3),
      tick(t0 + 1_000, '100.01', '1', 1),
      tick(t0 + 59_999, '99.99', '2', 4),
      tick(t0 + 2_000, '100.10', '5', 2),
      tick(t0 + 60_000, '101.00', '1', 5),
    ];
    const bars = aggregateMinuteBars(ticks).sort((a, b) => a.bucket - b.bucket);
    expect(bars).toHaveLength(2);
    expect(bars[0]).toMatchObject({
      bucket: t0,
      open: '100.01',
      high: '100.10',
      low: '99.99',
      close: '99.99',
      volume: '11',
      trades: 4,
      openTs: t0 + 1_000,
      closeTs: t0 + 59_999,
    });
    // 100.01*1 + 100.10*5 + 100.02*3 + 99.99*2 = 1100.55
    expect(bars[0]!.pv).toBe('1100.55');
    expect(vwapOf(bars[0]!.pv, bars[0]!.volume)).toBe('100.05');
    expect(bars[1]).toMatchObject({ bucket: t0 + 60_000, open: '101.00', close: '101.00', volume: '1' });
  });
});

describe('tick encoding', () => {
  it('round-trips and rejects malformed messages', () => {
    const t: Tick = {
      symbol: 'AAPL',
      price: '1.5',
      bid: '1.4',
      ask: '1.6',
      size: '2',
      ts: 1,
      seq: 2,
      producer: 'x',
    };
    expect(decodeTick(encodeTick(t))).toEqual(t);
    expect(decodeTick('nope')).toBeNull();
    expect(
      decodeTick(JSON.stringify({ s: 'AAPL', p: '1e5', b: '1', a: '1', z: '1', t: 1, q: 1 })),
    ).toBeNull();
  });
});

describe('scaled decimals', () => {
  it('adds and multiplies exactly and formats plainly', async () => {
    const { addScaled, formatScaled, mulScaled, parseScaled } = await import('../src/scaled.js');
    const cases: [string, string][] = [
      ['0.1', '0.2'],
      ['65000.01', '0.0537'],
      ['-12.340', '7'],
      ['0.00001', '1000'],
      ['0', '0.00'],
    ];
    for (const [a, b] of cases) {
      const x = parseScaled(a);
      const y = parseScaled(b);
      expect(formatScaled(addScaled(x, y))).toBe(new Dec(a).plus(b).toFixed());
      expect(formatScaled(mulScaled(x, y))).toBe(new Dec(a).times(b).toFixed());
    }
    expect(formatScaled(parseScaled('-0.50'))).toBe('-0.5');
  });
});
