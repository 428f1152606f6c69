import type pg from 'pg';
import type { Logger } from '../../../lib/logger.js';
import type { MarketMetrics } from './market.metrics.js';
import { utcDay, type TickRepository } from './tick.repository.js';

const DAY_MS = 86_400_000;

/**
 * Keeps the daily tick partitions: creates today's and the next `ahead` days', drops the days past
 * `retentionDays`. Safe on every replica at once (the SQL functions serialize on an advisory lock).
 */
export class PartitionMaintenance {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly ticks: TickRepository,
    private readonly metrics: MarketMetrics,
    private readonly logger: Logger,
    private readonly opts: { ahead: number; retentionDays: number; intervalMs: number },
    private readonly now: () => number = Date.now,
  ) {}

  /** One pass. @returns the days created and the partitions dropped */
  async runOnce(): Promise<{ created: string[]; dropped: string[] }> {
    const today = Math.floor(this.now() / DAY_MS) * DAY_MS;
    const days = Array.from({ length: this.opts.ahead + 1 }, (_, i) => utcDay(today + i * DAY_MS));
    const created = await this.ticks.ensurePartitions(this.pool, days);
    // Keeping N days means today and the N - 1 days before it.
    const dropped = await this.ticks.dropPartitionsBefore(
      this.pool,
      utcDay(today - (this.opts.retentionDays - 1) * DAY_MS),
    );
    if (dropped.length > 0) this.metrics.partitionsDropped.inc(dropped.length);
    if (created.length > 0 || dropped.length > 0)
      this.logger.info({ created, dropped }, 'tick partitions maintained');
    return { created, dropped };
  }

  /** Runs a pass now, then every `intervalMs`; a failed pass is logged and retried next time. */
  async start(): Promise<void> {
    await this.runOnce().catch((err: unknown) =>
      this.logger.warn({ err }, 'tick partition maintenance failed'),
    );
    this.timer = setInterval(() => {
      this.runOnce().catch((err: unknown) => this.logger.warn({ err }, 'tick partition maintenance failed'));
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
