/**
 * Retention selection: daily / weekly / monthly buckets counted like restic (the newest backup of
 * each of the last N periods that have one), the newest verified backup always kept, unverified
 * backups never selected, tenants independent.
 */
import { describe, expect, it } from 'vitest';
import { isoWeekKey, selectForPruning, type RetentionCandidate } from '../../src/backup/retention.js';

const T = '11111111-1111-1111-1111-111111111111';
const U = '22222222-2222-2222-2222-222222222222';

function b(id: string, iso: string, verified = true, tenantId = T): RetentionCandidate {
  return { id, tenantId, startedAt: new Date(iso), verified };
}

describe('isoWeekKey', () => {
  it.each([
    ['2024-01-01T00:00:00Z', '2024-W01'],
    ['2023-01-01T00:00:00Z', '2022-W52'],
    ['2020-12-31T00:00:00Z', '2020-W53'],
    ['2021-01-03T23:59:59Z', '2020-W53'],
    ['2024-12-30T00:00:00Z', '2025-W01'],
  ])('%s is in %s', (iso, week) => {
    expect(isoWeekKey(new Date(iso))).toBe(week);
  });
});

describe('selectForPruning', () => {
  it('keeps the newest of each of the last N days, weeks and months', () => {
    // Two backups a day for 60 days.
    const list: RetentionCandidate[] = [];
    for (let d = 0; d < 60; d++) {
      const day = new Date(Date.UTC(2024, 0, 1 + d));
      list.push(b(`d${d}-a`, new Date(day.getTime() + 2 * 3600_000).toISOString()));
      list.push(b(`d${d}-b`, new Date(day.getTime() + 14 * 3600_000).toISOString()));
    }
    const prune = new Set(selectForPruning(list, { daily: 7, weekly: 4, monthly: 3 }));
    const kept = list.filter((x) => !prune.has(x.id)).map((x) => x.id);
    // Days 53..59 (last 7 days, newest of each), newest of the last 4 ISO weeks, newest of Jan/Feb.
    expect(kept).toEqual(
      expect.arrayContaining(['d59-b', 'd58-b', 'd57-b', 'd56-b', 'd55-b', 'd54-b', 'd53-b', 'd30-b']),
    );
    expect(kept).not.toContain('d59-a');
    expect(kept.length).toBe(7 + 2 + 1); // 7 days; weeks W06/W07 ends not already kept; January
    expect(prune.size).toBe(list.length - kept.length);
  });

  it('never prunes the newest verified backup, even with a zero policy', () => {
    const list = [b('old', '2024-01-01T00:00:00Z'), b('new', '2024-02-01T00:00:00Z')];
    expect(selectForPruning(list, { daily: 0, weekly: 0, monthly: 0 })).toEqual(['old']);
  });

  it('ignores unverified backups: they neither count as the last good one nor get pruned here', () => {
    const list = [
      b('good', '2024-01-01T00:00:00Z'),
      b('failed', '2024-03-01T00:00:00Z', false),
      b('running', '2024-03-02T00:00:00Z', false),
    ];
    expect(selectForPruning(list, { daily: 0, weekly: 0, monthly: 0 })).toEqual([]);
  });

  it('treats tenants independently', () => {
    const list = [
      b('t-old', '2024-01-01T00:00:00Z'),
      b('t-new', '2024-01-02T00:00:00Z'),
      b('u-only', '2023-01-01T00:00:00Z', true, U),
    ];
    expect(selectForPruning(list, { daily: 1, weekly: 0, monthly: 0 })).toEqual(['t-old']);
  });
});
