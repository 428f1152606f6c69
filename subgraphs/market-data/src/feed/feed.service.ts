import type { Logger } from '../../../../lib/logger.js';
import { observeFeedLag, type MarketMetrics } from '../market.metrics.js';
import type { Tick } from '../../../../contracts/market-tick.js';
import type { RedisLease } from '../../../../lib/redis-lease.js';
import type { FeedProvider } from './provider.js';
import type { TickPublisher } from './tick.publisher.js';

/** Where published ticks go next (the Postgres writer); must never block. */
export interface PublishedTickSink {
  enqueue(ticks: readonly Tick[]): number;
}

/** Pause before the next lock check after one failed (Redis unreachable, or failing over). */
const RETRY_AFTER_FAILURE_MS = 200;

/**
 * One contender for the feed: every replica runs one, exactly one leads. Every third of the lock TTL
 * a follower tries to take the lock and the leader renews it. The leader runs the provider and
 * publishes its ticks through the fenced publisher, then hands them to the writer; on losing the lock
 * (a failed renewal, or a publish refused by the fence) it stops its provider at once. A graceful
 * stop releases the lock so a follower takes over within one poll instead of one TTL.
 *
 * Redis unreachable (a Sentinel failover takes a few seconds) is not a lost lock: the leader drops the
 * ticks it cannot publish and keeps leading while its lease may still be valid, and lock checks are
 * retried every {@link RETRY_AFTER_FAILURE_MS}, so ticks flow again as soon as the new primary answers.
 */
export class FeedService {
  private timer: NodeJS.Timeout | undefined;
  private run: { abort: AbortController; done: Promise<void> } | undefined;
  private stopped = true;
  private polling: Promise<void> | undefined;
  /** The last lock check failed (Redis unreachable): check again soon. */
  private checkFailed = false;
  /** Publishes are failing (logged once per outage). */
  private publishFailing = false;

  constructor(
    private readonly lock: RedisLease,
    private readonly publisher: TickPublisher,
    private readonly writer: PublishedTickSink,
    /** Builds the provider when this replica becomes leader (e.g. starting from the last quotes). */
    private readonly makeProvider: () => Promise<FeedProvider>,
    private readonly metrics: MarketMetrics,
    private readonly logger: Logger,
    private readonly ttlMs: number,
  ) {}

  /** True while this replica produces ticks. */
  get leading(): boolean {
    return this.run !== undefined;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.metrics.feedLeader.set(0);
    this.schedule(0);
  }

  /**
   * Stops producing; by default releases the lock for an immediate failover.
   * @param opts.release false simulates a crash: the lock stays until its TTL runs out
   */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.polling;
    await this.stepDown('stopping');
    if (opts.release === false) this.lock.abandon();
    else
      await this.lock
        .release()
        .catch((err: unknown) => this.logger.warn({ err }, 'feed lock release failed'));
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.polling = this.poll().finally(() => {
        this.polling = undefined;
        const every = Math.max(100, Math.floor(this.ttlMs / 3));
        this.schedule(this.checkFailed ? Math.min(every, RETRY_AFTER_FAILURE_MS) : every);
      });
    }, delayMs);
  }

  private async poll(): Promise<void> {
    try {
      if (this.run) {
        const renewed = await this.lock.renew();
        this.checkFailed = false;
        if (!renewed) await this.stepDown('lost the feed lock');
        return;
      }
      const acquired = await this.lock.acquire();
      this.checkFailed = false;
      if (acquired) await this.stepUp();
    } catch (err) {
      if (!this.checkFailed) this.logger.warn({ err }, 'feed lock check failed');
      this.checkFailed = true;
      // Unsure whether we still hold it: stop producing once the lease could have expired.
      if (this.run && !this.lock.held) await this.stepDown('feed lock lease expired');
    }
  }

  private async stepUp(): Promise<void> {
    if (this.stopped || this.run) return;
    const provider = await this.makeProvider();
    const abort = new AbortController();
    const sink = async (ticks: Tick[]): Promise<void> => {
      if (abort.signal.aborted) return;
      const outcome = await this.publisher.publish(ticks, this.lock.token).catch((err: unknown) => {
        // Redis unreachable: these ticks are lost, the lead is not (unless the lease ran out).
        if (!this.publishFailing) this.logger.warn({ err }, 'publishing ticks failed; dropping them');
        this.publishFailing = true;
        this.metrics.ticksDropped.inc({ reason: 'publish_failed' }, ticks.length);
        if (!this.lock.held) abort.abort();
        return undefined;
      });
      if (!outcome) return;
      if (this.publishFailing) this.logger.info('publishing ticks again');
      this.publishFailing = false;
      const { published, lostLock } = outcome;
      if (published > 0) {
        this.metrics.ticksPublished.inc(published);
        const sent = published === ticks.length ? ticks : ticks.slice(0, published);
        observeFeedLag(this.metrics, 'publish', sent);
        this.writer.enqueue(sent);
      }
      if (lostLock) {
        this.lock.abandon();
        abort.abort();
      }
    };
    const done = provider.run(sink, abort.signal).then(
      () => undefined,
      (err: unknown) => this.logger.error({ err, provider: provider.name }, 'feed provider failed'),
    );
    this.run = { abort, done };
    this.metrics.feedLeader.set(1);
    this.logger.info({ provider: provider.name, token: this.lock.token }, 'leading the feed');
    void done.then(async () => {
      // The provider ended on its own (a fault, or the fence refused a publish): give the lead up.
      if (this.run?.done === done && !this.stopped) await this.stepDown('provider stopped');
    });
  }

  private async stepDown(reason: string): Promise<void> {
    const r = this.run;
    if (!r) return;
    this.run = undefined;
    r.abort.abort();
    await r.done;
    this.metrics.feedLeader.set(0);
    this.logger.info({ reason }, 'no longer leading the feed');
    if (!this.stopped) await this.lock.release().catch(() => undefined);
  }
}
