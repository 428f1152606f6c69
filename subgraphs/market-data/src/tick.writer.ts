import type pg from 'pg';
import { releaseAfterFailure } from '../../../lib/db.js';
import type { Logger } from '../../../lib/logger.js';
import { aggregateMinuteBars } from './bar.aggregate.js';
import type { BarRepository } from './bar.repository.js';
import type { MarketMetrics } from './market.metrics.js';
import type { Tick } from '../../../contracts/market-tick.js';
import { utcDay, type TickRepository } from './tick.repository.js';

/** Options of {@link TickWriter}. */
export interface TickWriterOptions {
  /** Ticks per transaction. */
  batchSize: number;
  /** Longest a tick waits before a (partial) batch is flushed. */
  flushMs: number;
  /** Ticks held in memory at most; beyond it new ticks are dropped and counted. */
  bufferMax: number;
}

/** Advisory lock serializing bar writers across replicas (see {@link TickWriter.writeBatch}). */
const BARS_LOCK = 727_405;

/**
 * Writes published ticks to Postgres in batches, off the feed's path: `enqueue` never waits and never
 * fails. A flush loop takes up to `batchSize` ticks and writes them in one transaction: the ticks,
 * their 1-minute bars and the roll-ups. A failed batch stays at the head of the buffer and is retried
 * with backoff; while Postgres is down the buffer fills up to `bufferMax`, then new ticks are dropped
 * (market_ticks_dropped_total) rather than growing memory without bound.
 */
export class TickWriter {
  private buffer: Tick[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private failures = 0;
  private readonly knownDays = new Set<string>();
  private stopped = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly ticks: TickRepository,
    private readonly bars: BarRepository,
    private readonly metrics: MarketMetrics,
    private readonly logger: Logger,
    private readonly opts: TickWriterOptions,
  ) {}

  /** Ticks waiting to be written. */
  get pending(): number {
    return this.buffer.length;
  }

  /**
   * Queues ticks for writing; never blocks.
   * @returns how many were accepted (the rest were dropped: the buffer is full)
   */
  enqueue(ticks: readonly Tick[]): number {
    const room = Math.max(0, this.opts.bufferMax - this.buffer.length);
    const accepted = Math.min(room, ticks.length);
    for (let i = 0; i < accepted; i++) this.buffer.push(ticks[i] as Tick);
    if (accepted < ticks.length)
      this.metrics.ticksDropped.inc({ reason: 'buffer_full' }, ticks.length - accepted);
    this.metrics.writeBuffer.set(this.buffer.length);
    if (this.buffer.length >= this.opts.batchSize) this.kick(0);
    else this.kick(this.opts.flushMs);
    return accepted;
  }

  /** Writes everything buffered now (tests, shutdown); resolves when the buffer is empty or a write failed. */
  async flush(): Promise<void> {
    while (this.buffer.length > 0) {
      if (this.flushing) {
        await this.flushing;
        continue;
      }
      const ok = await this.runOnce();
      if (!ok) return;
    }
  }

  /** Stops the timer and writes what is left (bounded by `timeoutMs`). */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.race([this.flush(), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    if (this.buffer.length > 0) {
      this.metrics.ticksDropped.inc({ reason: 'shutdown' }, this.buffer.length);
      this.logger.warn({ pending: this.buffer.length }, 'ticks not written at shutdown');
      this.buffer = [];
    }
  }

  private kick(delayMs: number): void {
    if (this.stopped || this.flushing) return;
    if (this.timer && delayMs > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.loop();
    }, delayMs);
  }

  private async loop(): Promise<void> {
    if (this.flushing) return;
    const ok = await this.runOnce();
    if (this.buffer.length === 0 || this.stopped) return;
    if (ok) this.kick(this.buffer.length >= this.opts.batchSize ? 0 : this.opts.flushMs);
    else this.kick(Math.min(5_000, 100 * 2 ** Math.min(this.failures, 6)));
  }

  private async runOnce(): Promise<boolean> {
    if (this.buffer.length === 0) return true;
    const batch = this.buffer.slice(0, this.opts.batchSize);
    let ok = false;
    this.flushing = (async () => {
      const end = this.metrics.writeBatchSeconds.startTimer();
      try {
        await this.writeBatch(batch);
        end();
        this.buffer.splice(0, batch.length);
        this.metrics.ticksWritten.inc(batch.length);
        this.failures = 0;
        ok = true;
      } catch (err) {
        this.failures += 1;
        this.logger.warn(
          { err, batch: batch.length, failures: this.failures },
          'tick batch write failed; will retry',
        );
      } finally {
        this.metrics.writeBuffer.set(this.buffer.length);
      }
    })();
    try {
      await this.flushing;
    } finally {
      this.flushing = undefined;
    }
    return ok;
  }

  /**
   * One transaction: the ticks, then their 1-minute bars and roll-ups. All or nothing, so a retried
   * batch never counts twice. The advisory lock serializes writers: during a failover the old
   * leader may still be flushing while the new one writes, and roll-ups read the level below.
   */
  async writeBatch(batch: readonly Tick[]): Promise<void> {
    const days = [...new Set(batch.map((t) => utcDay(t.ts)))];
    for (let attempt = 1; ; attempt++) {
      const missing = days.filter((d) => !this.knownDays.has(d));
      if (missing.length > 0) {
        await this.ticks.ensurePartitions(this.pool, missing);
        for (const d of missing) this.knownDays.add(d);
      }
      try {
        await this.transaction(batch);
        return;
      } catch (err) {
        // 23514: no partition for a row. Retention dropped a day we had cached (a replay of old
        // ticks, or a clock far off): forget the cache and create the partitions once more.
        if ((err as { code?: unknown }).code !== '23514' || attempt > 1) throw err;
        this.knownDays.clear();
      }
    }
  }

  private async transaction(batch: readonly Tick[]): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [BARS_LOCK]);
      await this.ticks.insert(client, batch);
      await this.bars.upsertAndRollUp(client, aggregateMinuteBars(batch));
      await client.query('COMMIT');
    } catch (err) {
      await releaseAfterFailure(client, err);
      throw err;
    }
    client.release();
  }
}
