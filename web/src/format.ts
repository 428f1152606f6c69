// Display formatting of Decimal strings (exact on the wire; rounded only for the eye).

const cache = new Map<string, Intl.NumberFormat>();

function formatter(digits: number, signed: boolean): Intl.NumberFormat {
  const key = `${digits}:${signed}`;
  let f = cache.get(key);
  if (!f) {
    f = new Intl.NumberFormat('en-US', {
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
      signDisplay: signed ? 'exceptZero' : 'auto',
    });
    cache.set(key, f);
  }
  return f;
}

/** A number or Decimal string with `digits` decimals; an em dash for null. */
export function num(v: string | number | null | undefined, digits = 2, signed = false): string {
  if (v === null || v === undefined || v === '') return '—';
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? formatter(digits, signed).format(n) : String(v);
}

/** A fraction as a percentage (0.012 -> 1.20 %). */
export function pct(v: number | null | undefined, digits = 2, signed = false): string {
  return v === null || v === undefined ? '—' : `${num(v * 100, digits, signed)} %`;
}

/** Decimals a price of this tick size shows (0.01 -> 2). */
export function decimalsOf(tickSize: string | undefined): number {
  const frac = tickSize?.split('.')[1]?.replace(/0+$/, '') ?? '';
  return Math.min(Math.max(frac.length, 2), 6);
}

/** Local date and time of an ISO timestamp. */
export function time(iso: string | null | undefined, withDate = false): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return withDate ? d.toLocaleString() : d.toLocaleTimeString();
}

/** CSS class of a signed value. */
export function tone(v: string | number | null | undefined): string {
  const n = Number(v ?? 0);
  return n > 0 ? 'up' : n < 0 ? 'down' : '';
}

/** A fresh id for a clientOrderId (idempotency key of placeOrder). */
export function freshId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
