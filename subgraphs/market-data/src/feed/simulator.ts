import { Decimal } from 'decimal.js';
import type { InstrumentModel } from '../instrument.catalog.js';
import { SECONDS_PER_YEAR } from '../interval.js';
import type { Tick } from '../../../../contracts/market-tick.js';
import { Prng } from './prng.js';
import { sleep, type FeedProvider, type TickSink } from './provider.js';

/** What the simulator needs of an instrument, plus the price it starts from. */
export interface SimulatedInstrument {
  symbol: string;
  tickSize: string;
  lotSize: string;
  priceDecimals: number;
  assetClass: InstrumentModel['assetClass'];
  /** Annualized drift and volatility (fractions). */
  drift: number;
  volatility: number;
  spreadBps: number;
  /** Mid price the path starts from (the instrument's base price, or the last quote after a failover). */
  startPrice: string;
}

/** Average trade size in lots, per asset class (sizes are exponential around it, at least one lot). */
const MEAN_LOTS: Record<InstrumentModel['assetClass'], number> = {
  EQUITY: 100,
  ETF: 100,
  FX: 500,
  CRYPTO: 200,
};

/** A decimal step as an integer number of units at a scale: 0.05 is { units: 5, scale: 2 }. */
interface Grid {
  units: number;
  scale: number;
}

function gridOf(step: string, scale: number): Grid {
  const units = new Decimal(step).times(new Decimal(10).pow(scale));
  if (!units.isInteger() || units.lte(0)) throw new Error(`step ${step} is not on a 10^-${scale} grid`);
  return { units: units.toNumber(), scale };
}

/** An integer count of units at `scale` as an exact decimal string (no float ever formats a price). */
function formatScaled(n: number, scale: number): string {
  const digits = String(n).padStart(scale + 1, '0');
  return scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

interface PathState {
  inst: SimulatedInstrument;
  tick: Grid;
  tickFloat: number;
  lot: Grid;
  halfSpread: number;
  logPrice: number;
  lastModelTime: number;
}

/**
 * Geometric Brownian motion per instrument: log S advances by (mu - sigma^2 / 2) dt + sigma sqrt(dt) Z
 * with Z from a seeded generator. Each call picks an instrument at random and advances model time by
 * 1 / ticksPerSecond, so the sequence depends only on the seed, the instruments and the rate, never on
 * the wall clock: deterministic for a seed. Bid and ask straddle the mid by the instrument's spread,
 * rounded outwards to the tick size; trades hit the bid or lift the ask; sizes are whole lots.
 */
export class GbmSimulator {
  private readonly rng: Prng;
  private readonly paths: PathState[];
  private readonly stepSeconds: number;
  private modelTime = 0;
  private seq: number;
  private readonly producer: string;

  constructor(
    instruments: readonly SimulatedInstrument[],
    opts: { seed: number; ticksPerSecond: number; producer: string; startSeq?: number },
  ) {
    if (instruments.length === 0) throw new Error('the simulator needs at least one instrument');
    this.rng = new Prng(opts.seed);
    this.stepSeconds = 1 / opts.ticksPerSecond;
    this.seq = opts.startSeq ?? 0;
    this.producer = opts.producer;
    // Sorted, so the same set of instruments gives the same path whatever order it came in.
    this.paths = [...instruments]
      .sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0))
      .map((inst) => ({
        inst,
        tick: gridOf(inst.tickSize, inst.priceDecimals),
        tickFloat: Number(inst.tickSize),
        lot: gridOf(inst.lotSize, new Decimal(inst.lotSize).decimalPlaces()),
        halfSpread: inst.spreadBps / 20_000,
        logPrice: Math.log(Number(inst.startPrice)),
        lastModelTime: -this.stepSeconds * instruments.length,
      }));
  }

  /** The next tick, stamped `ts` (epoch ms); the values do not depend on `ts`. */
  next(ts: number): Tick {
    this.modelTime += this.stepSeconds;
    const path = this.paths[this.rng.int(this.paths.length)] as PathState;
    const { inst } = path;
    const dtYears = (this.modelTime - path.lastModelTime) / SECONDS_PER_YEAR;
    path.lastModelTime = this.modelTime;
    const sigma = inst.volatility;
    path.logPrice +=
      (inst.drift - (sigma * sigma) / 2) * dtYears + sigma * Math.sqrt(dtYears) * this.rng.normal();

    // The mid is a float; prices are whole numbers of ticks from here on, formatted exactly. Float
    // rounding can only move a quote by one tick at a boundary, identically on every run.
    const mid = Math.exp(path.logPrice);
    const half = mid * path.halfSpread;
    const bidTicks = Math.max(1, Math.floor((mid - half) / path.tickFloat));
    const askTicks = Math.max(bidTicks + 1, Math.ceil((mid + half) / path.tickFloat));
    const buy = this.rng.next() < 0.5;
    const lots = 1 + Math.floor(-Math.log(this.rng.nextOpen()) * MEAN_LOTS[inst.assetClass]);
    this.seq += 1;
    const bid = formatScaled(bidTicks * path.tick.units, path.tick.scale);
    const ask = formatScaled(askTicks * path.tick.units, path.tick.scale);
    return {
      symbol: inst.symbol,
      price: buy ? ask : bid,
      bid,
      ask,
      size: formatScaled(lots * path.lot.units, path.lot.scale),
      ts,
      seq: this.seq,
      producer: this.producer,
    };
  }
}

/** Options of {@link SimulatorProvider}. */
export interface SimulatorOptions {
  seed: number;
  ticksPerSecond: number;
  producer: string;
  /** Clock in epoch ms. */
  now?: () => number;
}

/**
 * Runs a {@link GbmSimulator} in real time at `ticksPerSecond` in total: every step it produces the
 * ticks that fell due since the last one, with timestamps spread over the step. When it falls more
 * than a second behind (a long pause), it skips the backlog instead of bursting.
 */
export class SimulatorProvider implements FeedProvider {
  readonly name = 'simulator';
  private readonly now: () => number;

  constructor(
    private readonly instruments: readonly SimulatedInstrument[],
    private readonly opts: SimulatorOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  async run(sink: TickSink, signal: AbortSignal): Promise<void> {
    const rate = this.opts.ticksPerSecond;
    // Sequence numbers start from the clock (µs), so they keep increasing across failovers.
    const sim = new GbmSimulator(this.instruments, { ...this.opts, startSeq: this.now() * 1000 });
    const stepMs = Math.max(10, Math.min(100, 1000 / rate));
    let last = this.now();
    let owed = 0;
    while (!signal.aborted) {
      await sleep(stepMs, signal);
      if (signal.aborted) break;
      const now = this.now();
      owed += ((now - last) * rate) / 1000;
      if (owed > rate) owed = rate;
      const due = Math.floor(owed);
      owed -= due;
      if (due > 0) {
        const ticks = new Array<Tick>(due);
        for (let i = 0; i < due; i++) ticks[i] = sim.next(Math.round(last + ((i + 1) * (now - last)) / due));
        await sink(ticks);
      }
      last = now;
    }
  }
}
