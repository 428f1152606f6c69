/**
 * Backup retention (grandfather-father-son, as restic and borg count it): per tenant, among its
 * VERIFIED backups, keep the newest backup of each of the last `daily` days that have one, of the
 * last `weekly` ISO weeks and of the last `monthly` months (a backup may count for several), plus
 * always the newest verified backup, whatever the policy says. Everything else verified is pruned:
 * its file and manifest are deleted from the MA130, then its row is marked. Backups that are running,
 * failed or already pruned are never touched (failed ones never had a file under a final name).
 */
import path from 'node:path';
import type { Ma130Connection } from './ma130.client.js';

/** How many periods of each kind to keep. */
export interface RetentionPolicy {
  daily: number;
  weekly: number;
  monthly: number;
}

/** What retention needs to know about a backup. */
export interface RetentionCandidate {
  id: string;
  tenantId: string;
  /** When it was taken (names the file). */
  startedAt: Date;
  /** Verified: uploaded, checked against the remote copy, and recorded as such. */
  verified: boolean;
}

const dayKey = (d: Date): string => d.toISOString().slice(0, 10);
const monthKey = (d: Date): string => d.toISOString().slice(0, 7);

/** ISO-8601 week (`2024-W03`), UTC. */
export function isoWeekKey(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const weekday = t.getUTCDay() || 7;
  // The Thursday of this week decides the ISO year.
  t.setUTCDate(t.getUTCDate() + 4 - weekday);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

/**
 * The ids of backups to prune (see the module comment). Pure: same input, same answer.
 */
export function selectForPruning(backups: readonly RetentionCandidate[], policy: RetentionPolicy): string[] {
  const byTenant = new Map<string, RetentionCandidate[]>();
  for (const b of backups) {
    if (!b.verified) continue;
    const list = byTenant.get(b.tenantId) ?? [];
    list.push(b);
    byTenant.set(b.tenantId, list);
  }
  const prune: string[] = [];
  for (const list of byTenant.values()) {
    list.sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime() || (a.id < b.id ? 1 : -1));
    const keep = new Set<string>();
    const newest = list[0];
    if (newest) keep.add(newest.id);
    for (const [limit, key] of [
      [policy.daily, dayKey],
      [policy.weekly, isoWeekKey],
      [policy.monthly, monthKey],
    ] as const) {
      const seen = new Set<string>();
      for (const b of list) {
        if (seen.size >= limit) break;
        const k = key(b.startedAt);
        if (seen.has(k)) continue;
        seen.add(k);
        keep.add(b.id);
      }
    }
    for (const b of list) if (!keep.has(b.id)) prune.push(b.id);
  }
  return prune;
}

/** A backup to delete: its id and where its file is. */
export interface PruneItem {
  id: string;
  remotePath: string;
}

/**
 * Deletes each backup's file and manifest, then calls `markPruned`. A backup whose deletion fails is
 * left as it was (its row still says where the file is) and tried again on the next run.
 * @returns the ids pruned
 */
export async function pruneBackups(
  conn: Ma130Connection,
  items: readonly PruneItem[],
  markPruned: (id: string) => Promise<void>,
  onError: (id: string, err: unknown) => void = () => undefined,
): Promise<string[]> {
  const done: string[] = [];
  for (const item of items) {
    try {
      await conn.unlink(item.remotePath);
      await conn.unlink(`${item.remotePath}.manifest.json`);
      await markPruned(item.id);
      // Empty day / month / year folders go too (not an error when other files remain).
      let dir = path.posix.dirname(item.remotePath);
      for (
        let i = 0;
        i < 3 && dir.startsWith(conn.settings.basePath) && dir !== conn.settings.basePath;
        i++
      ) {
        await conn.rmdirIfEmpty(dir);
        dir = path.posix.dirname(dir);
      }
      done.push(item.id);
    } catch (err) {
      onError(item.id, err);
    }
  }
  return done;
}

/**
 * Removes `*.part` files older than `olderThanMs` from the day folders of the last `days` days:
 * leftovers of uploads that failed for good (a retried upload reuses and replaces its own `.part`).
 * @returns the paths removed
 */
export async function sweepPartials(
  conn: Ma130Connection,
  now: Date,
  olderThanMs: number,
  days = 7,
): Promise<string[]> {
  const removed: string[] = [];
  for (let i = 0; i < days; i++) {
    const d = new Date(now.getTime() - i * 86_400_000);
    const dir = `${conn.settings.basePath}/${d.toISOString().slice(0, 10).replace(/-/g, '/')}`;
    for (const e of await conn.list(dir)) {
      if (e.isDirectory || !e.name.endsWith('.part')) continue;
      if (now.getTime() - e.mtime * 1000 < olderThanMs) continue;
      const p = `${dir}/${e.name}`;
      if (await conn.unlink(p)) removed.push(p);
    }
  }
  return removed;
}
