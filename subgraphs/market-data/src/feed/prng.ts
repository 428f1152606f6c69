/**
 * The simulator's seeded randomness on pure-rand (xoroshiro128+): the same seed always yields the same
 * sequence, on every platform, which `Math.random` cannot promise. Only the normal deviate (Box-Muller)
 * is ours; pure-rand has uniform distributions only.
 */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

export class Prng {
  private readonly rng: ReturnType<typeof xoroshiro128plus>;
  private spare: number | undefined;

  constructor(seed: number) {
    this.rng = xoroshiro128plus(seed);
    // Discard the first outputs: seeded from a small integer, the state starts poorly mixed (the
    // first draw is near 1 for every seed).
    for (let i = 0; i < 16; i++) this.rng.next();
  }

  /** Uniform in [0, 1). */
  next(): number {
    return uniformFloat64(this.rng);
  }

  /** Uniform in (0, 1): safe to take the logarithm of. */
  nextOpen(): number {
    let u = this.next();
    while (u === 0) u = this.next();
    return u;
  }

  /** Standard normal (Box-Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.spare !== undefined) {
      const v = this.spare;
      this.spare = undefined;
      return v;
    }
    const r = Math.sqrt(-2 * Math.log(this.nextOpen()));
    const theta = 2 * Math.PI * this.next();
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return uniformInt(this.rng, 0, n - 1);
  }
}
