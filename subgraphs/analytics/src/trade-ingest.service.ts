/**
 * What a trade event does in analytics: apply the fill to the account's lots (closing round trips
 * into `closed_trades`), invalidate the account's cached reports, and ask for a snapshot of the
 * account (coalesced per account: snapshot.scheduler.ts). Applying is idempotent (`applied_trades`), so a redelivered entry changes nothing. The first trade
 * analytics sees for an account replays the account's whole execution history from trading's
 * `executions` table first (backfill), in execution order.
 */
import { Dec } from '../../../lib/decimal.js';
import type pg from 'pg';
import { tenantSchemaName, withTenant, type TenantScope } from '../../../lib/db.js';
import { AnalyticsRepository } from './analytics.repository.js';
import { applyFill } from './metrics/lots.js';
import type { ReportCache } from './report.cache.js';
import type { TradeSnapshotScheduler } from './snapshot.scheduler.js';
import type { TradeEvent } from './trade-event.js';

export type IngestResult = 'applied' | 'duplicate';

interface Fill {
  tradeId: string;
  symbol: string;
  side: 'BUY' | 'SELL';
  quantity: string;
  price: string;
  executedAt: Date;
}

async function applyOne(repo: AnalyticsRepository, accountId: string, f: Fill): Promise<boolean> {
  if (!(await repo.markApplied(f.tradeId, accountId, f.executedAt))) return false;
  const lot = await repo.lockLot(accountId, f.symbol);
  const r = applyFill(lot, {
    side: f.side,
    quantity: new Dec(f.quantity),
    price: new Dec(f.price),
    at: f.executedAt,
  });
  await repo.saveLot(accountId, f.symbol, r.lot);
  if (r.closed) await repo.insertClosedTrade(accountId, f.symbol, f.tradeId, r.closed);
  return true;
}

export class TradeIngestService {
  constructor(
    private readonly pool: pg.Pool,
    private readonly cache: ReportCache,
    private readonly snapshots: TradeSnapshotScheduler,
  ) {}

  /** Handles one trade event (see the module comment). */
  async ingest(event: TradeEvent): Promise<IngestResult> {
    const scope: TenantScope = { tenantId: event.tenantId, schemaName: tenantSchemaName(event.tenantId) };
    const applied = await withTenant(this.pool, scope, async (_tx, client) => {
      const repo = new AnalyticsRepository(client);
      // Serializes ingestion per account, so replay and live events never interleave.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`analytics:${event.accountId}`]);
      if (!(await repo.hasAppliedTrades(event.accountId))) {
        for (const e of await repo.executions(event.accountId)) {
          await applyOne(repo, event.accountId, { ...e, tradeId: e.id });
        }
      }
      return applyOne(repo, event.accountId, event);
    });
    await this.cache.invalidate(event.tenantId, event.accountId);
    this.snapshots.request(scope, event.accountId);
    return applied ? 'applied' : 'duplicate';
  }
}
