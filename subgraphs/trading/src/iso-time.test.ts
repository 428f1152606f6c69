import { describe, expect, it } from 'vitest';
import { isoTime, isoTimeOrNull } from './iso-time.js';

describe('isoTime', () => {
  it('writes what JSON.stringify writes for a Date, repeated or changing instants alike', () => {
    const dates = [
      new Date('2030-03-04T15:00:00.123Z'),
      new Date('2030-03-04T15:00:00.123Z'),
      new Date(0),
      new Date('2030-03-04T15:00:00.124Z'),
      new Date(Number.NaN),
      new Date('2030-03-04T15:00:00.124Z'),
    ];
    for (const d of dates) expect(JSON.stringify({ t: isoTime(d) })).toBe(JSON.stringify({ t: d }));
    expect(isoTimeOrNull(null)).toBeNull();
  });
});
