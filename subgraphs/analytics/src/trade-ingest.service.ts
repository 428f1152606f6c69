/**
 * What trade events do in analytics: apply the fills to the accounts' lots (closing round trips into
 * `closed_trades`), invalidate the accounts' cached reports, and ask for a snapshot of each account
 * (coalesced per account: snapshot.scheduler.ts). The consumer hands over one tenant's events of a
 * stream page at once: one transaction of two round trips for all of them (trade-batch.ts) instead of
 * about eight per trade. Applying is idempotent (`applied_trades`), so a redelivered entry changes
 * nothing. The first trade analytics sees for an account replays the account's whole execution
 * history from trading's `executions` table first (backfill), in execution order.
 */
import type pg from 'pg';
import { tenantSchemaName, withTenantRoundTrips, type TenantScope } from '../../../lib/db.js';
import { AnalyticsRepository } from './analytics.repository.js';
import type { ReportCache } from './report.cache.js';
import type { TradeSnapshotScheduler } from './snapshot.scheduler.js';
import { BatchPlan, batchReadStatement, type BatchState } from './trade-batch.js';
import type { TradeEvent } from './trade-event.js';

export type IngestResult = 'applied' | 'duplicate';

export class TradeIngestService {
  constructor(
    private readonly pool: pg.Pool,
    private readonly cache: ReportCache,
    private readonly snapshots: TradeSnapshotScheduler,
  ) {}

  /** Handles one trade event (a batch of one). */
  async ingest(event: TradeEvent): Promise<IngestResult> {
    const [result] = await this.ingestBatch([event]);
    return result ?? 'duplicate';
  }

  /**
   * Handles trade events of one tenant, in stream order, in one transaction: all of them, or (on a
   * throw) none.
   * @returns one result per event
   */
  async ingestBatch(events: readonly TradeEvent[]): Promise<IngestResult[]> {
    const tenantId = events[0]?.tenantId;
    if (tenantId === undefined) return [];
    if (events.some((e) => e.tenantId !== tenantId)) throw new Error('a trade batch spans tenants');
    const scope: TenantScope = { tenantId, schemaName: tenantSchemaName(tenantId) };
    const accounts = [...new Set(events.map((e) => e.accountId))];
    const results = await withTenantRoundTrips(this.pool, scope, batchReadStatement(events), async (trip) => {
      const state = trip.first[0]?.['state'] as BatchState | undefined;
      if (!state) throw new Error('trade batch state missing');
      const plan = new BatchPlan(state);
      const seen = new Set(state.seen);
      for (const accountId of accounts) {
        if (seen.has(accountId)) continue;
        // Rare (an account's first trade): the account's lots and history, one round trip each.
        const repo = new AnalyticsRepository(trip.client);
        for (const lot of await repo.lots(accountId)) plan.loadLot(lot);
        plan.replay(accountId, await repo.executions(accountId));
      }
      const value = events.map((e): IngestResult => (plan.apply(e) ? 'applied' : 'duplicate'));
      return { value, last: plan.writeStatement() };
    });
    await this.cache.invalidateMany(tenantId, accounts);
    for (const accountId of accounts) this.snapshots.request(scope, accountId);
    return results;
  }
}
