/**
 * Equity snapshots: equity = trading's cash + open positions at the latest market prices. The
 * periodic snapshotter visits every active tenant and account; a trade event snapshots its account
 * at once. Daily rows exist for UTC weekdays only (one per account and day, overwritten during the
 * day so it ends as the day's last value); weekend activity folds into Monday's row, since each
 * row's external flow covers everything since the previous daily row. Accounts whose history
 * predates their first daily row are backfilled from the cash ledger, executions and market-data's
 * daily closes.
 */
import { Dec } from '../../../lib/decimal.js';
import type pg from 'pg';
import { tenantSchemaName, withPlatform, withTenant, type TenantScope } from '../../../lib/db.js';
import type { Logger } from '../../../lib/logger.js';
import type { Redis } from '../../../lib/redis.js';
import { AnalyticsRepository, type NewSnapshot } from './analytics.repository.js';
import type { AnalyticsMetrics } from './analytics.metrics.js';
import type { MarketRepository } from './market.repository.js';

const DAY_MS = 86_400_000;

/** Whether a UTC date is Monday to Friday. */
export function isWeekday(d: Date): boolean {
  const wd = d.getUTCDay();
  return wd !== 0 && wd !== 6;
}

export interface SnapshotOptions {
  intraday: boolean;
  intervalMs: number;
}

export class SnapshotService {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly market: MarketRepository,
    private readonly lockRedis: Redis,
    private readonly metrics: AnalyticsMetrics,
    private readonly logger: Logger,
    private readonly opts: SnapshotOptions,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Takes a snapshot of one account now (intraday row when enabled, and the day's daily row). */
  async snapshotAccount(scope: TenantScope, accountId: string): Promise<void> {
    const at = this.now();
    await withTenant(this.pool, scope, async (_tx, client) => {
      const repo = new AnalyticsRepository(client);
      const cash = await repo.cash(accountId);
      if (cash === null) return;
      const positions = await repo.positions(accountId);
      const prices = await this.market.latestPrices(positions.map((p) => p.symbol));
      const positionsValue = positions.reduce(
        (s, p) => s.plus(new Dec(p.quantity).times(prices.get(p.symbol) ?? p.averagePrice)),
        new Dec(0),
      );
      const base = {
        accountId,
        at,
        cash,
        positionsValue: positionsValue.toDecimalPlaces(4).toFixed(),
        equity: positionsValue.plus(cash).toDecimalPlaces(4).toFixed(),
      };
      if (this.opts.intraday) {
        const prev = await repo.lastSnapshot(accountId, 'intraday', at);
        const flow = prev ? await repo.externalFlows(accountId, prev.at, at) : '0';
        await repo.saveSnapshot({ ...base, kind: 'intraday', externalFlow: flow });
        this.metrics.snapshotsWritten.inc({ kind: 'intraday' });
      }
      if (isWeekday(at)) {
        const prev = await repo.lastDailyBefore(accountId, at.toISOString().slice(0, 10));
        const flow = prev ? await repo.externalFlows(accountId, prev.at, at) : '0';
        await repo.saveSnapshot({ ...base, kind: 'daily', externalFlow: flow });
        this.metrics.snapshotsWritten.inc({ kind: 'daily' });
      }
    });
  }

  /**
   * Writes daily rows for the weekdays before today from the account's history, when it has no
   * daily row yet. Cash is the running sum of the cash ledger; positions the running sum of
   * executions, valued at each day's close (carried forward; the last fill price before any bar).
   * @returns rows written
   */
  async backfill(scope: TenantScope, accountId: string): Promise<number> {
    const today = this.now().toISOString().slice(0, 10);
    return withTenant(this.pool, scope, async (_tx, client) => {
      const repo = new AnalyticsRepository(client);
      if (await repo.hasDailySnapshots(accountId)) return 0;
      const { ledger, executions } = await repo.history(accountId);
      const first = ledger[0]?.at ?? executions[0]?.executedAt;
      if (!first) return 0;
      const startDay = new Date(`${first.toISOString().slice(0, 10)}T00:00:00Z`);
      const endDay = new Date(`${today}T00:00:00Z`);
      if (startDay >= endDay) return 0;
      const symbols = [...new Set(executions.map((e) => e.symbol))];
      const closes = await this.market.closesBySymbol(symbols, startDay, endDay);

      let cash = new Dec(0);
      let flow = new Dec(0);
      let li = 0;
      let ei = 0;
      const qty = new Map<string, Dec>();
      const lastPrice = new Map<string, string>();
      const rows: NewSnapshot[] = [];
      for (let d = startDay; d < endDay; d = new Date(d.getTime() + DAY_MS)) {
        const dayEnd = new Date(d.getTime() + DAY_MS);
        const key = d.toISOString().slice(0, 10);
        for (let l = ledger[li]; l && l.at < dayEnd; l = ledger[++li]) {
          cash = cash.plus(l.amount);
          if (l.kind === 'deposit' || l.kind === 'withdrawal') flow = flow.plus(l.amount);
        }
        for (let e = executions[ei]; e && e.executedAt < dayEnd; e = executions[++ei]) {
          const signed = e.side === 'BUY' ? new Dec(e.quantity) : new Dec(e.quantity).neg();
          qty.set(e.symbol, (qty.get(e.symbol) ?? new Dec(0)).plus(signed));
          lastPrice.set(e.symbol, e.price);
        }
        for (const s of symbols) {
          const close = closes.get(s)?.get(key);
          if (close !== undefined) lastPrice.set(s, close);
        }
        if (!isWeekday(d)) continue;
        let positionsValue = new Dec(0);
        for (const [s, q] of qty) positionsValue = positionsValue.plus(q.times(lastPrice.get(s) ?? 0));
        rows.push({
          accountId,
          kind: 'daily',
          at: new Date(dayEnd.getTime() - 1000),
          cash: cash.toDecimalPlaces(4).toFixed(),
          positionsValue: positionsValue.toDecimalPlaces(4).toFixed(),
          equity: cash.plus(positionsValue).toDecimalPlaces(4).toFixed(),
          externalFlow: rows.length === 0 ? '0' : flow.toDecimalPlaces(4).toFixed(),
        });
        flow = new Dec(0);
      }
      for (const r of rows) await repo.saveSnapshot(r);
      this.metrics.snapshotsWritten.inc({ kind: 'daily' }, rows.length);
      return rows.length;
    });
  }

  /** One pass over every active tenant and account: backfill when needed, then snapshot. */
  async runOnce(): Promise<void> {
    const tenants = await withPlatform(this.pool, { kind: 'system' }, async (_tx, client) => {
      const r = await client.query<{ id: string }>(`SELECT id FROM tenancy.tenants WHERE status = 'ACTIVE'`);
      return r.rows.map((x) => x.id);
    });
    for (const tenantId of tenants) {
      const scope = { tenantId, schemaName: tenantSchemaName(tenantId) };
      try {
        const accounts = await withTenant(this.pool, scope, (_tx, client) =>
          new AnalyticsRepository(client).accountIds(),
        );
        for (const accountId of accounts) {
          await this.backfill(scope, accountId);
          await this.snapshotAccount(scope, accountId);
        }
      } catch (err) {
        // One tenant (e.g. mid-migration) must not stop the others' snapshots.
        this.logger.warn({ err, tenantId }, 'snapshot of tenant failed');
      }
    }
  }

  /** Runs {@link runOnce} every interval; one replica at a time holds the run lock. */
  start(): void {
    const tick = (): void => {
      if (this.running) return;
      this.running = this.guardedRun().finally(() => {
        this.running = undefined;
      });
    };
    this.timer = setInterval(tick, this.opts.intervalMs);
    this.timer.unref();
    tick();
  }

  private async guardedRun(): Promise<void> {
    try {
      const ok = await this.lockRedis.set(
        'snapshot:lock',
        String(process.pid),
        'PX',
        this.opts.intervalMs,
        'NX',
      );
      if (ok !== 'OK') return;
      await this.runOnce();
    } catch (err) {
      this.logger.warn({ err }, 'snapshot run failed');
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
