/**
 * Consumer of trading's trade stream in the consumer group `analytics` (one entry is handled by one
 * replica). Entries are acknowledged once handled, or once found malformed or for a tenant that
 * does not exist; an entry whose handling failed (e.g. Postgres down) stays pending and is retried
 * from the pending list on the next pass, so nothing is lost.
 */
import type { Logger } from '../../../lib/logger.js';
import type { Redis } from '../../../lib/redis.js';
import type { AnalyticsMetrics } from './analytics.metrics.js';
import { parseTradeEntry, type TradeEvent } from './trade-event.js';

type StreamReply = [key: string, entries: [id: string, fields: string[]][]][] | null;

export const CONSUMER_GROUP = 'analytics';

/** Postgres errors meaning "this tenant's schema or role does not exist": retrying cannot help. */
const PERMANENT_PG_CODES = new Set(['42704', '3F000', '42P01', '22023']);

export class TradeStreamConsumer {
  private stopping = false;
  private loop: Promise<void> | undefined;
  private retryPending = true;

  /**
   * @param blocking client used only for the blocking XREADGROUP (no key prefix)
   * @param commands client for XGROUP/XACK (no key prefix)
   * @param streamKey full key of the stream (`<REDIS_PREFIX>trading:trades`)
   */
  constructor(
    private readonly blocking: Redis,
    private readonly commands: Redis,
    private readonly streamKey: string,
    private readonly consumerName: string,
    private readonly handle: (e: TradeEvent) => Promise<string>,
    private readonly metrics: AnalyticsMetrics,
    private readonly logger: Logger,
    private readonly blockMs = 1000,
  ) {}

  /** Creates the group (from the start of the retained stream) and starts consuming. */
  async start(): Promise<void> {
    try {
      await this.commands.xgroup('CREATE', this.streamKey, CONSUMER_GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
    }
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.blocking.disconnect();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        // Own pending entries first (left by a failure or a crash), then new ones.
        const from = this.retryPending ? '0' : '>';
        const reply = (await this.blocking.xreadgroup(
          'GROUP',
          CONSUMER_GROUP,
          this.consumerName,
          'COUNT',
          100,
          'BLOCK',
          this.blockMs,
          'STREAMS',
          this.streamKey,
          from,
        )) as StreamReply;
        const entries = reply?.[0]?.[1] ?? [];
        if (this.retryPending && entries.length === 0) this.retryPending = false;
        for (const [id, fields] of entries) {
          if (this.stopping) break;
          // A pending entry trimmed from the stream comes back without fields.
          await this.handleEntry(id, fields ?? []);
        }
      } catch (err) {
        if (this.stopping) break;
        this.logger.warn({ err }, 'trade stream read failed');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private async handleEntry(id: string, fields: string[]): Promise<void> {
    const event = parseTradeEntry(fields);
    if (!event) {
      this.metrics.tradesConsumed.inc({ result: 'ignored' });
      this.logger.warn({ id }, 'malformed trade event ignored');
      await this.commands.xack(this.streamKey, CONSUMER_GROUP, id);
      return;
    }
    try {
      const result = await this.handle(event);
      this.metrics.tradesConsumed.inc({ result });
      await this.commands.xack(this.streamKey, CONSUMER_GROUP, id);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && PERMANENT_PG_CODES.has(code)) {
        this.metrics.tradesConsumed.inc({ result: 'ignored' });
        this.logger.warn({ id, tenantId: event.tenantId }, 'trade event of an unknown tenant ignored');
        await this.commands.xack(this.streamKey, CONSUMER_GROUP, id);
        return;
      }
      this.metrics.tradesConsumed.inc({ result: 'error' });
      this.logger.error({ err, id }, 'trade event failed; left pending for retry');
      this.retryPending = true;
      // Pending reads do not block: pause so a lasting outage is not retried in a tight loop.
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
