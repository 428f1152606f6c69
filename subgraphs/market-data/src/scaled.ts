/**
 * Exact decimal sums on BigInt: a value is an integer mantissa at a decimal scale (12.34 is 1234n at
 * scale 2). The tick writer adds up sizes and price * size for every tick, and this is several times
 * cheaper than decimal.js on that hot path while staying exact.
 */
export interface Scaled {
  value: bigint;
  scale: number;
}

const POW10: bigint[] = Array.from({ length: 40 }, (_, i) => 10n ** BigInt(i));

function pow10(n: number): bigint {
  return POW10[n] ?? 10n ** BigInt(n);
}

/** Parses a plain decimal string ("-12.340"); throws on anything else. */
export function parseScaled(s: string): Scaled {
  const dot = s.indexOf('.');
  if (dot < 0) return { value: BigInt(s), scale: 0 };
  return { value: BigInt(s.slice(0, dot) + s.slice(dot + 1)), scale: s.length - dot - 1 };
}

/** a * b, exactly. */
export function mulScaled(a: Scaled, b: Scaled): Scaled {
  return { value: a.value * b.value, scale: a.scale + b.scale };
}

/** a + b, exactly (at the larger scale). */
export function addScaled(a: Scaled, b: Scaled): Scaled {
  if (a.scale === b.scale) return { value: a.value + b.value, scale: a.scale };
  if (a.scale > b.scale) return { value: a.value + b.value * pow10(a.scale - b.scale), scale: a.scale };
  return { value: a.value * pow10(b.scale - a.scale) + b.value, scale: b.scale };
}

/** A plain decimal string, trailing zeros of the fraction removed ("12.5", "3"). */
export function formatScaled(a: Scaled): string {
  const negative = a.value < 0n;
  let digits = (negative ? -a.value : a.value).toString();
  let scale = a.scale;
  while (scale > 0 && digits.length > 1 && digits.endsWith('0')) {
    digits = digits.slice(0, -1);
    scale--;
  }
  if (digits === '0') scale = 0;
  if (scale > 0) {
    digits = digits.padStart(scale + 1, '0');
    digits = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  }
  return negative ? `-${digits}` : digits;
}
