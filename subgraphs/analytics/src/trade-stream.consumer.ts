/**
 * Consumer of trading's trade stream in the consumer group `analytics` (one entry is handled by one
 * replica). A page of entries is handled per tenant, each tenant's entries at once (one transaction),
 * and acknowledged in one XACK; after a page, the consumer waits `batchWaitMs` so the next page carries
 * more (an idle consumer still takes the first entry at once). A batch that fails is handled again
 * entry by entry, so only the faulty entry stays pending. An entry is acknowledged once handled, or
 * once it belongs to a tenant that does not exist.
 * A failed entry stays pending and never holds up the others: new entries keep flowing, and pending
 * ones idle for `retryMs` (this replica's, or a crashed replica's) are claimed again with XCLAIM. After
 * `maxDeliveries` deliveries (Redis counts them per entry), or at once when it cannot even be parsed,
 * an entry moves to the dead-letter stream `<stream>:dead` and is acknowledged, in one MULTI.
 * An outage (Postgres unreachable) is not the entry's fault: it is retried in place with backoff, so
 * an outage blocks everything (as it would anyway) but burns no deliveries.
 */
import type { Logger } from '../../../lib/logger.js';
import { throughFailover, type Redis } from '../../../lib/redis.js';
import type { AnalyticsMetrics } from './analytics.metrics.js';
import { parseTradeEntry, type TradeEvent } from './trade-event.js';

type StreamEntry = [id: string, fields: string[] | null];
type StreamReply = [key: string, entries: StreamEntry[]][] | null;
type PendingReply = [id: string, consumer: string, idleMs: number, deliveries: number][];

/**
 * Handles trade events of one tenant, in stream order, as one unit: a result per event (the
 * `result` label of `analytics_trades_consumed_total`), or a throw for all of them.
 */
export type TradeBatchHandler = (events: readonly TradeEvent[]) => Promise<readonly string[]>;

interface Parsed {
  id: string;
  event: TradeEvent;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const CONSUMER_GROUP = 'analytics';
/** Suffix of the dead-letter stream: `<REDIS_PREFIX>trading:trades:dead` (analytics owns it). */
export const DEAD_LETTER_SUFFIX = ':dead';
/**
 * Approximate cap of the dead-letter stream: Redis runs with `noeviction`, so nothing may grow without
 * bound; far more than an alert that fires on the first entry should ever let accumulate.
 */
const DEAD_LETTER_MAXLEN = 100_000;
/** Entries of one XPENDING page (entries to retry). */
const PAGE = 100;

/** Why an entry was dead-lettered (the `reason` label and field). */
export type DeadLetterReason = 'malformed' | 'max_deliveries';

/** Postgres errors meaning "this tenant's schema or role does not exist": retrying cannot help. */
const PERMANENT_PG_CODES = new Set(['42704', '3F000', '42P01', '22023']);
/** Errors of the connection, not of the entry: connection exceptions, shutdowns, too many connections. */
const OUTAGE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01',
  '57P02',
  '57P03',
  '53300',
]);

function isOutage(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (OUTAGE_CODES.has(code) || code.startsWith('08'))) return true;
  const message = err instanceof Error ? err.message : '';
  return /timeout exceeded when trying to connect|Connection terminated/i.test(message);
}

export interface TradeStreamOptions {
  /** Deliveries of an entry before it is dead-lettered (ANALYTICS_TRADE_STREAM_MAX_DELIVERIES). */
  maxDeliveries: number;
  /** Idle time before a failed entry is delivered again (ANALYTICS_TRADE_STREAM_RETRY_MS). */
  retryMs: number;
  /** Longest wait of one blocking read. @default 1000 */
  blockMs?: number;
  /**
   * Wait after a page that had entries, so the next page batches more of them
   * (ANALYTICS_TRADE_STREAM_BATCH_WAIT_MS). @default 0
   */
  batchWaitMs?: number;
  /**
   * Most new entries read (and ingested, one transaction per tenant) at once
   * (ANALYTICS_TRADE_STREAM_PAGE). @default 100
   */
  pageSize?: number;
}

export class TradeStreamConsumer {
  private stopping = false;
  private loop: Promise<void> | undefined;
  private nextClaimAt = 0;
  private readonly deadLetterKey: string;
  private readonly blockMs: number;
  private readonly batchWaitMs: number;
  private readonly pageSize: number;
  /** Last error of entries this replica saw fail (for the dead-letter record); bounded by the PEL. */
  private readonly lastError = new Map<string, string>();

  /**
   * @param blocking client used only for the blocking XREADGROUP (no key prefix)
   * @param commands client for XGROUP/XACK/XCLAIM/dead letters (no key prefix)
   * @param streamKey full key of the stream (`<REDIS_PREFIX>trading:trades`)
   */
  constructor(
    private readonly blocking: Redis,
    private readonly commands: Redis,
    private readonly streamKey: string,
    private readonly consumerName: string,
    private readonly handle: TradeBatchHandler,
    private readonly metrics: AnalyticsMetrics,
    private readonly logger: Logger,
    private readonly opts: TradeStreamOptions,
  ) {
    this.deadLetterKey = `${streamKey}${DEAD_LETTER_SUFFIX}`;
    this.blockMs = opts.blockMs ?? 1000;
    this.batchWaitMs = opts.batchWaitMs ?? 0;
    this.pageSize = opts.pageSize ?? PAGE;
  }

  /** Creates the group (from the start of the retained stream) and starts consuming. */
  async start(): Promise<void> {
    // Through a Redis failover: a replica starting while Sentinel promotes would otherwise exit.
    await throughFailover(this.commands, () =>
      this.commands.xgroup('CREATE', this.streamKey, CONSUMER_GROUP, '0', 'MKSTREAM').then(
        () => undefined,
        (err: unknown) => {
          // The group exists already (another replica, or an earlier start): nothing to do.
          if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
        },
      ),
    );
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
        if (Date.now() >= this.nextClaimAt) {
          // A full page means more may be due: look again right after the next read.
          const full = await this.retryPending();
          this.nextClaimAt = full ? 0 : Date.now() + Math.max(10, Math.floor(this.opts.retryMs / 2));
        }
        const wait = Math.max(1, Math.min(this.blockMs, this.nextClaimAt - Date.now()));
        const reply = (await this.blocking.xreadgroup(
          'GROUP',
          CONSUMER_GROUP,
          this.consumerName,
          'COUNT',
          this.pageSize,
          'BLOCK',
          wait,
          'STREAMS',
          this.streamKey,
          '>',
        )) as StreamReply;
        const entries = reply?.[0]?.[1] ?? [];
        await this.handlePage(entries);
        if (entries.length > 0 && entries.length < this.pageSize && this.batchWaitMs > 0 && !this.stopping) {
          await sleep(this.batchWaitMs);
        }
      } catch (err) {
        if (this.stopping) break;
        this.logger.warn({ err }, 'trade stream read failed');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /**
   * Entries of the group (any consumer) idle for at least `retryMs`: dead-lettered when their
   * deliveries are used up, otherwise claimed (one more delivery) and handled again.
   * @returns true when the page was full
   */
  private async retryPending(): Promise<boolean> {
    const pending = (await this.commands.xpending(
      this.streamKey,
      CONSUMER_GROUP,
      'IDLE',
      this.opts.retryMs,
      '-',
      '+',
      PAGE,
    )) as PendingReply;
    for (const [id, , , deliveries] of pending) {
      if (this.stopping) break;
      if (deliveries >= this.opts.maxDeliveries) {
        const [entry] = (await this.commands.xrange(this.streamKey, id, id)) as StreamEntry[];
        await this.deadLetter(id, entry?.[1] ?? [], 'max_deliveries', deliveries);
        continue;
      }
      // Claimed one at a time: a claim is a delivery, so only the entry about to be handled pays one.
      const claimed = (await this.commands.xclaim(
        this.streamKey,
        CONSUMER_GROUP,
        this.consumerName,
        this.opts.retryMs,
        id,
      )) as StreamEntry[];
      const [entry] = claimed;
      // Claimed by another replica in the meantime, or trimmed from the stream (Redis drops it then).
      if (!entry) continue;
      const event = await this.parseOrDeadLetter(id, entry[1] ?? [], deliveries + 1);
      if (event && (await this.handleEntry({ id, event }, deliveries + 1))) {
        await this.commands.xack(this.streamKey, CONSUMER_GROUP, id);
      }
    }
    return pending.length === PAGE;
  }

  /** Handles one page of new entries: per tenant in one batch, then one XACK for all handled. */
  private async handlePage(entries: readonly StreamEntry[]): Promise<void> {
    const byTenant = new Map<string, Parsed[]>();
    for (const [id, fields] of entries) {
      const event = await this.parseOrDeadLetter(id, fields ?? [], 1);
      if (!event) continue;
      const group = byTenant.get(event.tenantId);
      if (group) group.push({ id, event });
      else byTenant.set(event.tenantId, [{ id, event }]);
    }
    const done: string[] = [];
    for (const group of byTenant.values()) {
      if (this.stopping) break;
      if (group.length === 1) {
        const [one] = group as [Parsed];
        if (await this.handleEntry(one, 1)) done.push(one.id);
        continue;
      }
      const failure = await this.attempt(group);
      if (!failure) {
        done.push(...group.map((p) => p.id));
        continue;
      }
      this.logger.warn(
        { err: failure.err, tenantId: group[0]?.event.tenantId, entries: group.length },
        'trade batch failed; handling its entries one by one',
      );
      for (const p of group) {
        if (this.stopping) break;
        if (await this.handleEntry(p, 1)) done.push(p.id);
      }
    }
    if (done.length > 0) await this.commands.xack(this.streamKey, CONSUMER_GROUP, ...done);
  }

  /** The entry's event, or null once it is dead-lettered (parsing is deterministic: no retry helps). */
  private async parseOrDeadLetter(
    id: string,
    fields: string[],
    delivery: number,
  ): Promise<TradeEvent | null> {
    const event = parseTradeEntry(fields);
    if (event) return event;
    this.lastError.set(id, 'malformed trade event');
    await this.deadLetter(id, fields, 'malformed', delivery);
    return null;
  }

  /**
   * Handles one entry alone; a failure leaves it pending for a later delivery.
   * @returns whether it is to be acknowledged
   */
  private async handleEntry(p: Parsed, delivery: number): Promise<boolean> {
    const failure = await this.attempt([p]);
    if (!failure) {
      this.lastError.delete(p.id);
      return true;
    }
    const { err } = failure;
    this.metrics.tradesConsumed.inc({ result: 'error' });
    // Entries that another replica finished leave a stale line here: keep the map bounded.
    if (this.lastError.size >= 10_000) this.lastError.clear();
    this.lastError.set(p.id, err instanceof Error ? err.message.slice(0, 500) : String(err));
    this.logger.error(
      { err, id: p.id, tenantId: p.event.tenantId, delivery, maxDeliveries: this.opts.maxDeliveries },
      'trade event failed; left pending for a later delivery',
    );
    return false;
  }

  /**
   * Runs the handler on events of one tenant. An outage is retried in place with backoff; a tenant
   * that does not exist is done (its entries are ignored).
   * @returns undefined when the entries are done, otherwise the error
   */
  private async attempt(group: readonly Parsed[]): Promise<{ err: unknown } | undefined> {
    let backoff = 100;
    for (;;) {
      try {
        const results = await this.handle(group.map((p) => p.event));
        for (const result of results) this.metrics.tradesConsumed.inc({ result });
        return undefined;
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (typeof code === 'string' && PERMANENT_PG_CODES.has(code)) {
          this.metrics.tradesConsumed.inc({ result: 'ignored' }, group.length);
          this.logger.warn(
            { ids: group.map((p) => p.id), tenantId: group[0]?.event.tenantId },
            'trade events of an unknown tenant ignored',
          );
          return undefined;
        }
        if (!isOutage(err) || this.stopping) return { err };
        this.metrics.tradesConsumed.inc({ result: 'error' });
        this.logger.warn(
          { err, entries: group.length },
          'trade events failed on an outage; retrying in place',
        );
        await sleep(backoff);
        backoff = Math.min(backoff * 2, Math.max(100, this.opts.retryMs));
      }
    }
  }

  /** Copies the entry to the dead-letter stream and acknowledges it, atomically. */
  private async deadLetter(
    id: string,
    fields: string[],
    reason: DeadLetterReason,
    deliveries: number,
  ): Promise<void> {
    const error = this.lastError.get(id) ?? '';
    const results = await this.commands
      .multi()
      .xadd(
        this.deadLetterKey,
        'MAXLEN',
        '~',
        DEAD_LETTER_MAXLEN,
        '*',
        'id',
        id,
        'reason',
        reason,
        'deliveries',
        String(deliveries),
        'error',
        error,
        'consumer',
        this.consumerName,
        'fields',
        JSON.stringify(fields),
      )
      .xack(this.streamKey, CONSUMER_GROUP, id)
      .exec();
    const failed = results?.find(([err]) => err)?.[0];
    if (!results || failed) throw failed ?? new Error('dead-letter transaction discarded');
    this.lastError.delete(id);
    this.metrics.tradesConsumed.inc({ result: 'dead_lettered' });
    this.metrics.deadLetters.inc({ reason });
    this.logger.error({ id, reason, deliveries, error }, 'trade event moved to the dead-letter stream');
  }
}

/** The consumer group's lag and pending count (XINFO GROUPS); undefined before the group exists. */
export async function tradeStreamGroupInfo(
  redis: Redis,
  streamKey: string,
): Promise<{ lag: number | undefined; pending: number } | undefined> {
  let groups: unknown[][];
  try {
    groups = (await redis.xinfo('GROUPS', streamKey)) as unknown[][];
  } catch (err) {
    if (String((err as Error).message).includes('no such key')) return undefined;
    throw err;
  }
  for (const g of groups) {
    const fields = new Map<string, unknown>();
    for (let i = 0; i + 1 < g.length; i += 2) fields.set(String(g[i]), g[i + 1]);
    if (fields.get('name') !== CONSUMER_GROUP) continue;
    const lag = fields.get('lag');
    return { lag: typeof lag === 'number' ? lag : undefined, pending: Number(fields.get('pending') ?? 0) };
  }
  return undefined;
}
