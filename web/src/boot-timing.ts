// User Timing marks of the desk's start-up, `desk:<step>` (boot, mount, query:<Operation>:start and
// :end, prices), read by bench/web-desk.ts and shown in DevTools' performance panel. Recorded only
// until the market watch first shows every price (or MAX_MARKS, on a page that never gets there), so a
// desk left open keeps no growing list of entries.

/** Enough for any start-up; a bound for a page that never shows the market watch. */
const MAX_MARKS = 100;

let left = typeof performance !== 'undefined' && typeof performance.mark === 'function' ? MAX_MARKS : 0;

/** Marks `desk:<step>` while the start-up is being recorded. */
export function bootMark(step: string): void {
  if (left <= 0) return;
  left--;
  performance.mark(`desk:${step}`);
}

/** The first meaningful render happened: its mark, then nothing more is recorded. */
export function bootDone(): void {
  bootMark('prices');
  left = 0;
}

/** Whether start-up marks are still being recorded. */
export const bootRecording = (): boolean => left > 0;
