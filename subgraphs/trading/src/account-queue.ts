/**
 * Group commit per account. Submissions to one account are serialized by the account row lock anyway;
 * instead of each waiting for the lock on a pooled connection of its own, they queue here, in the
 * process, and the submissions that arrived while the account's transaction was running go together in
 * the next one (one lock, one read, one write, one COMMIT), each still checked against the account as
 * the previous ones left it. An idle account's submission starts at once.
 */

/** One submission's outcome in a batch: its value, or the error only it gets. */
export type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown };

interface Waiting<T, R> {
  item: T;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}

/** The submissions of one key: those waiting, and how many its running batch holds. */
interface KeyQueue<T, R> {
  group: string;
  waiting: Waiting<T, R>[];
  inBatch: number;
}

/** Limits of an {@link AccountQueue}. */
export interface AccountQueueOptions {
  /** Most submissions in one batch. @default 64 */
  maxBatch?: number;
  /** Most batches running at once, over all keys. @default unlimited */
  maxRunning?: number;
  /** Most submissions waiting per key (its running batch not counted). @default unlimited */
  maxWaiting?: number;
}

/**
 * A submission refused because its key's queue already holds `limit` waiting submissions.
 *
 * At most `maxRunning` batches (of all keys) run at once. Turns go round robin between groups (tenants)
 * with waiting batches, first come first served within a group, so one tenant's burst cannot push
 * another's orders to the back of a shared line. Each key's queue is bounded (`maxWaiting`).
 */
export class AccountQueueFullError extends Error {
  constructor(
    readonly key: string,
    readonly limit: number,
  ) {
    super(`queue ${key} holds ${limit} waiting submissions`);
    this.name = 'AccountQueueFullError';
  }
}

/**
 * Every queue of this process, for the `trading_account_queue_depth` gauge (trading.metrics.ts): held
 * weakly, so a queue nobody uses any more is not kept alive by being measured.
 */
const liveQueues = new Set<WeakRef<{ readonly depth: number }>>();

/** Submissions waiting or running in every account queue of this process. */
export function accountQueueDepth(): number {
  let n = 0;
  for (const ref of liveQueues) {
    const queue = ref.deref();
    if (queue) n += queue.depth;
    else liveQueues.delete(ref);
  }
  return n;
}

export class AccountQueue<T, R> {
  private readonly queues = new Map<string, KeyQueue<T, R>>();
  private readonly maxBatch: number;
  private readonly maxRunning: number;
  private readonly maxWaiting: number;
  private running = 0;
  /** Batches waiting for a turn, per group; the map's order is the round-robin rotation. */
  private readonly waitingToRun = new Map<string, (() => void)[]>();

  /**
   * @param run processes a batch of one key in one transaction, returning one outcome per item (same
   *   order); a throw fails every item of the batch with that error
   */
  constructor(
    private readonly run: (key: string, items: T[]) => Promise<Settled<R>[]>,
    opts: AccountQueueOptions = {},
  ) {
    this.maxBatch = opts.maxBatch ?? 64;
    this.maxRunning = opts.maxRunning ?? Number.POSITIVE_INFINITY;
    this.maxWaiting = opts.maxWaiting ?? Number.POSITIVE_INFINITY;
    if (!(this.maxBatch >= 1) || !(this.maxRunning >= 1) || !(this.maxWaiting >= 1))
      throw new RangeError('AccountQueue limits must be >= 1');
    liveQueues.add(new WeakRef(this));
  }

  /**
   * Queues `item` behind the key's running batch (or runs it now) and settles with its outcome.
   * @param group the key's group (its tenant): turns are shared round robin between groups
   * @throws AccountQueueFullError (as the rejection) when the key already has `maxWaiting` waiting
   */
  submit(key: string, item: T, group = ''): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const queue = this.queues.get(key);
      if (queue) {
        if (queue.waiting.length >= this.maxWaiting) {
          reject(new AccountQueueFullError(key, this.maxWaiting));
          return;
        }
        queue.waiting.push({ item, resolve, reject });
        return;
      }
      const fresh: KeyQueue<T, R> = { group, waiting: [{ item, resolve, reject }], inBatch: 0 };
      this.queues.set(key, fresh);
      void this.drain(key, fresh);
    });
  }

  /** Submissions waiting or running, over all keys (0 once every queue has drained). */
  get depth(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.waiting.length + q.inBatch;
    return n;
  }

  private async drain(key: string, queue: KeyQueue<T, R>): Promise<void> {
    while (queue.waiting.length > 0) {
      // Each batch starts after the I/O of this turn of the event loop, so that submissions arriving
      // together go together (an idle account's order waits for nothing else).
      await new Promise((resolve) => setImmediate(resolve));
      await this.turn(queue.group);
      // Taken once the batch may run: what arrived while it waited for a turn goes with it.
      const batch = queue.waiting.splice(0, this.maxBatch);
      queue.inBatch = batch.length;
      let outcomes: Settled<R>[] | undefined;
      let failure: unknown;
      try {
        outcomes = await this.run(
          key,
          batch.map((w) => w.item),
        );
      } catch (err) {
        failure = err ?? new Error('batch failed');
      } finally {
        queue.inBatch = 0;
        this.done();
      }
      batch.forEach((w, i) => {
        const o = outcomes?.[i];
        if (o?.ok) w.resolve(o.value);
        else w.reject(o ? o.error : (failure ?? new Error('batch returned no outcome')));
      });
    }
    this.queues.delete(key);
  }

  /** Resolves once a batch of `group` may run (at most maxRunning at once). */
  private turn(group: string): Promise<void> {
    if (this.running < this.maxRunning) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const waiting = this.waitingToRun.get(group);
      if (waiting) waiting.push(resolve);
      else this.waitingToRun.set(group, [resolve]);
    });
  }

  /**
   * A batch finished: its turn passes to the oldest waiting batch of the group at the head of the
   * rotation, and that group goes to the back (if it still waits for more turns).
   */
  private done(): void {
    const head = this.waitingToRun.entries().next();
    if (head.done) {
      this.running--;
      return;
    }
    const [group, waiting] = head.value;
    const next = waiting.shift();
    this.waitingToRun.delete(group);
    if (waiting.length > 0) this.waitingToRun.set(group, waiting);
    next?.();
  }
}
