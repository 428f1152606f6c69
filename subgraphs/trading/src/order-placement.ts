/**
 * Order placement, group-committed per account: submissions of one account wait in its queue
 * (account-queue.ts) and each batch is one account session (session.store.ts), so concurrent orders of
 * an account are checked one after the other against buying power that is still true when their
 * reservations are written. A submission whose clientOrderId exists in the account answers the stored
 * order (checked under the account lock, with the unique index behind it).
 */
import type { TenantScope } from '../../../lib/db.js';
import { AppError, conflict, notFound, rateLimited } from '../../../lib/errors.js';
import type { Logger } from '../../../lib/logger.js';
import { AccountQueue, AccountQueueFullError, type Settled } from './account-queue.js';
import type { AccountSession } from './account-session.js';
import type { OrderRow } from './db/tenant-schema.js';
import type { EffectsSink } from './effects.sink.js';
import { sameOrder, validateOrder, type OrderIntent, type PlaceOrderInput } from './order.types.js';
import type { OrderBookRegistry } from './order-book.registry.js';
import type { PreTrade, Prepared } from './pre-trade.js';
import type { TxEffects } from './session-changes.js';
import { DuplicateOrderError, type SessionStore } from './session.store.js';
import { inTenant, isRetryable, type Caller, type TenantDb } from './tenant-scope.js';
import type { TradingMetrics } from './trading.metrics.js';
import type { TradingRepository } from './trading.repository.js';

export interface PlacementDeps {
  store: SessionStore;
  preTrade: PreTrade;
  /** Tenant transactions outside a session (the rare duplicate found only at insert). */
  pool: TenantDb;
  registry: OrderBookRegistry;
  metrics: TradingMetrics;
  logger: Logger;
  sink: EffectsSink;
  now: () => number;
  /** Placement transactions at once, over all accounts (TRADING_PLACEMENT_CONCURRENCY). */
  placementConcurrency: number;
  /** Submissions that may wait per account queue (TRADING_ACCOUNT_QUEUE_MAX). */
  accountQueueMax: number;
}

/** A validated submission waiting for its account's transaction. */
interface Submission {
  scope: TenantScope;
  intent: OrderIntent;
  prepared: Prepared;
}

/** What a placement transaction did: each submission's order (or error), and the effects to publish. */
interface Placed {
  outcomes: Settled<OrderRow>[];
  effects: TxEffects | null;
  /** Ids of the orders the transaction created (the others were placed before: duplicates). */
  created: ReadonlySet<string>;
}

/** One submission's result inside the session: a new order, one placed before, or an error. */
type Result = { order: OrderRow } | { placedBefore: OrderRow } | { error: unknown };

export class OrderPlacement {
  /** Submissions per (tenant, user, account), group-committed (see {@link AccountQueue}). */
  private readonly queue: AccountQueue<Submission, OrderRow>;

  constructor(private readonly deps: PlacementDeps) {
    this.queue = new AccountQueue((_key, batch) => this.placeBatch(batch), {
      maxRunning: deps.placementConcurrency,
      maxWaiting: deps.accountQueueMax,
    });
  }

  /** Submissions waiting for or in a placement transaction, over all accounts of this replica. */
  get depth(): number {
    return this.queue.depth;
  }

  /** Places an order (see OrderService.place). */
  async place(caller: Caller, input: PlaceOrderInput): Promise<OrderRow> {
    const intent = validateOrder(input);
    const end = this.deps.metrics.placementDuration.startTimer({ type: intent.type });
    await this.deps.registry.ensure(caller.scope);
    const prepared = await this.deps.preTrade.prepare(intent.symbol);
    const { tenantId, userId } = caller.scope;
    const order = await this.queue
      .submit(
        `${tenantId}/${userId}/${intent.accountId}`,
        { scope: caller.scope, intent, prepared },
        tenantId,
      )
      .catch((err: unknown) => {
        if (!(err instanceof AccountQueueFullError)) throw err;
        this.deps.metrics.limitRefusals.inc({ limit: 'account_queue' });
        // A batch takes at most a statement timeout; in practice the queue moves far sooner.
        throw rateLimited(
          1,
          `Too many orders waiting for this account: at most ${err.limit} may queue per account (TRADING_ACCOUNT_QUEUE_MAX)`,
          { limit: 'account_queue', max: err.limit },
        );
      });
    end();
    return order;
  }

  /**
   * Places a batch of one account's submissions in one transaction; a failure of the shared
   * transaction that is not the account's own (not found, not provisioned) is retried one submission
   * per transaction, so one bad order never fails the others.
   */
  private async placeBatch(batch: Submission[]): Promise<Settled<OrderRow>[]> {
    const first = batch[0] as Submission;
    let placed: Placed;
    try {
      placed = await this.withRetry(first.scope, batch);
    } catch (err) {
      if (batch.length === 1 || err instanceof AppError) throw err;
      this.deps.logger.warn({ err, orders: batch.length }, 'batched placement failed; placing one by one');
      const outcomes: Settled<OrderRow>[] = [];
      for (const one of batch) {
        outcomes.push(
          await this.placeBatch([one]).then(
            (o) => o[0] as Settled<OrderRow>,
            (error: unknown) => ({ ok: false as const, error }),
          ),
        );
      }
      return outcomes;
    }
    const { outcomes, effects, created } = placed;
    const metrics = this.deps.metrics;
    metrics.placementBatch.observe(batch.length);
    for (const o of outcomes) {
      if (!o.ok) continue;
      if (!created.has(o.value.id)) metrics.ordersPlaced.inc({ result: 'duplicate' });
      else if (o.value.status !== 'REJECTED') metrics.ordersPlaced.inc({ result: 'accepted' });
      else {
        metrics.ordersPlaced.inc({ result: 'rejected' });
        metrics.orderRejections.inc({ reason: o.value.rejectReason ?? 'UNKNOWN' });
      }
    }
    if (effects) {
      metrics.fills.inc({ source: 'placement' }, effects.trades.length);
      await this.deps.sink(first.scope, effects);
    }
    return outcomes;
  }

  /** Places a batch in the account's session, and answers each submission with its final order. */
  private async placeIn(scope: TenantScope, batch: readonly Submission[]): Promise<Placed> {
    const now = this.deps.now();
    const done = await this.deps.store.withSession(
      scope,
      {
        account: { id: (batch[0] as Submission).intent.accountId },
        lock: true,
        clientOrderIds: [...new Set(batch.map((b) => b.intent.clientOrderId))],
        now,
      },
      (session, repo) => this.placeAll(session, repo, batch, now),
    );
    if (!done) throw notFound('Account');
    const { value: results, effects } = done;
    const final = new Map((effects?.orders ?? []).map((o) => [o.id, o]));
    const created = new Set(results.flatMap((r) => ('order' in r ? [r.order.id] : [])));
    const outcomes = results.map((r): Settled<OrderRow> => {
      if ('error' in r) return { ok: false, error: r.error };
      const row = 'order' in r ? r.order : r.placedBefore;
      return { ok: true, value: final.get(row.id) ?? row };
    });
    return { outcomes, effects, created };
  }

  /** The batch's orders, one after the other, in the session (nothing is written here). */
  private async placeAll(
    session: AccountSession,
    repo: TradingRepository,
    batch: readonly Submission[],
    now: number,
  ): Promise<Result[]> {
    const { preTrade } = this.deps;
    const placedHere = new Map<string, OrderRow>();
    const results: Result[] = [];
    for (const { intent, prepared } of batch) {
      const existingId = session.existingOrderId(intent.clientOrderId);
      const before =
        placedHere.get(intent.clientOrderId) ?? (existingId ? await repo.getOrder(existingId) : undefined);
      if (before) {
        results.push(
          sameOrder(before, intent)
            ? { placedBefore: before }
            : { error: conflict('clientOrderId was already used for an order with different parameters') },
        );
        continue;
      }
      // The session's open quantities include the orders of this batch that rest.
      const decision = await preTrade.decide(session, intent, prepared, now, {
        submissions: session.countSubmission(),
      });
      const order = session.createOrder(intent, decision, {
        expiresAt: preTrade.expiryOf(intent.timeInForce, now),
      });
      if (decision.rejection === null) preTrade.executeNow(session, order, prepared, now);
      placedHere.set(intent.clientOrderId, order);
      results.push({ order });
    }
    return results;
  }

  /**
   * Runs a placement transaction; a deadlock or serialization failure is retried, and a duplicate
   * clientOrderId found only at insert (never expected under the account lock) answers a lone
   * submission with the stored order.
   */
  private async withRetry(scope: TenantScope, batch: readonly Submission[]): Promise<Placed> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.placeIn(scope, batch);
      } catch (err) {
        const one = batch.length === 1 ? (batch[0] as Submission).intent : null;
        if (err instanceof DuplicateOrderError && one) {
          const existing = await inTenant(this.deps.pool, scope, (repo) =>
            repo.findOrderByClientId(one.accountId, one.clientOrderId),
          );
          if (existing)
            return { outcomes: [{ ok: true, value: existing }], effects: null, created: new Set() };
        }
        if (!isRetryable(err) || attempt >= 3) throw err;
        this.deps.logger.warn({ err, attempt }, 'order transaction retried');
      }
    }
  }
}
