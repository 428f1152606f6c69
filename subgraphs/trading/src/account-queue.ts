/**
 * Group commit per account. Submissions to one account are serialized by the account row lock anyway;
 * instead of each waiting for the lock on a pooled connection of its own, they queue here, in the
 * process, and the submissions that arrived while the account's transaction was running go together in
 * the next one: one lock, one read, one write and one COMMIT (one WAL flush) for all of them, each still
 * checked against the account as the previous ones left it. An idle account's submission starts at
 * once, so a lone order waits for nothing.
 *
 * At most `maxRunning` batches (of all keys together) run at once. A key whose batch is due while all
 * are busy waits for one to finish (first come, first served), and what its submissions gather
 * meanwhile goes in its batch. Under load the database then works on a few transactions near its
 * cores' count instead of one per busy account, and each carries more orders: in the orders benchmark,
 * 4 at once gave 6.1 orders per transaction instead of 3.8, a quarter less PostgreSQL CPU per order and
 * about 18% more orders per second (BENCHMARKS.md).
 *
 * Only the order of submissions and the sharing of a transaction are decided here; what a batch does,
 * and what each submission gets back (its own result or its own error), is the runner's.
 */

/** One submission's outcome in a batch: its value, or the error only it gets. */
export type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown };

interface Waiting<T, R> {
  item: T;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}

/** Limits of an {@link AccountQueue}. */
export interface AccountQueueOptions {
  /** Most submissions in one batch. @default 64 */
  maxBatch?: number;
  /** Most batches running at once, over all keys. @default unlimited */
  maxRunning?: number;
}

export class AccountQueue<T, R> {
  private readonly queues = new Map<string, Waiting<T, R>[]>();
  private readonly maxBatch: number;
  private readonly maxRunning: number;
  private running = 0;
  /** Keys whose batch waits for a running one to finish, oldest first. */
  private readonly waitingToRun: (() => void)[] = [];

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
    if (!(this.maxBatch >= 1) || !(this.maxRunning >= 1))
      throw new RangeError('AccountQueue limits must be >= 1');
  }

  /** Queues `item` behind the key's running batch (or runs it now) and settles with its outcome. */
  submit(key: string, item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const waiting = this.queues.get(key);
      if (waiting) {
        waiting.push({ item, resolve, reject });
        return;
      }
      const queue = [{ item, resolve, reject }];
      this.queues.set(key, queue);
      void this.drain(key, queue);
    });
  }

  /** Submissions waiting or running, over all keys (0 once every queue has drained). */
  get depth(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  private async drain(key: string, queue: Waiting<T, R>[]): Promise<void> {
    while (queue.length > 0) {
      // Each batch starts after the I/O of this turn of the event loop, so that submissions arriving
      // together go together (an idle account's order waits for nothing else).
      await new Promise((resolve) => setImmediate(resolve));
      await this.turn();
      // Taken once the batch may run: what arrived while it waited for a turn goes with it.
      const batch = queue.slice(0, this.maxBatch);
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
        this.done();
      }
      queue.splice(0, batch.length);
      batch.forEach((w, i) => {
        const o = outcomes?.[i];
        if (o?.ok) w.resolve(o.value);
        else w.reject(o ? o.error : (failure ?? new Error('batch returned no outcome')));
      });
    }
    this.queues.delete(key);
  }

  /** Resolves once a batch may run (at most maxRunning at once, first come first served). */
  private turn(): Promise<void> {
    if (this.running < this.maxRunning) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waitingToRun.push(resolve));
  }

  /** A batch finished: its turn passes to the oldest waiting key, if any. */
  private done(): void {
    const next = this.waitingToRun.shift();
    if (next) next();
    else this.running--;
  }
}
