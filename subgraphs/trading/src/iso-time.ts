/**
 * Timestamps as JSON text for the order path's documents and messages. A session stamps everything it
 * writes with the same instant (its clock), so the last conversion is kept: dozens of Dates per
 * placement batch become one toISOString, and the objects handed to JSON.stringify hold strings only
 * (V8 serializes those on its fast path; a Date sends the whole call down the slow one).
 */
let lastTime = Number.NaN;
let lastText = '';

/** What `JSON.stringify` writes for `date` (Date.prototype.toJSON: ISO 8601, null when invalid). */
export function isoTime(date: Date): string | null {
  const time = date.getTime();
  if (time !== lastTime) {
    if (!Number.isFinite(time)) return null;
    lastTime = time;
    lastText = date.toISOString();
  }
  return lastText;
}

/** {@link isoTime}, null-preserving. */
export function isoTimeOrNull(date: Date | null): string | null {
  return date === null ? null : isoTime(date);
}
