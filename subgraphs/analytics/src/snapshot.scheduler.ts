/**
 * Snapshots after trades, coalesced per account: the first trade snapshots its account at once, and
 * a burst of trades gives at most one more snapshot per interval, taken after the burst, so the
 * account's latest state is always captured. Snapshots are derived data: one lost to a crash is
 * taken again by the account's next trade or by the periodic snapshotter.
 */
import type { TenantScope } from '../../../lib/db.js';
import type { Logger } from '../../../lib/logger.js';

interface AccountState {
  scope: TenantScope;
  accountId: string;
  /** When the last snapshot of the account started (ms since the epoch). */
  lastStart: number;
  /** A trade arrived while a snapshot was running or waiting for its turn. */
  pending: boolean;
  running: Promise<void> | undefined;
  /** The next snapshot's turn, when it has to wait for the interval. */
  wake: NodeJS.Timeout | undefined;
  /** Forgets an idle account once its interval has passed. */
  expiry: NodeJS.Timeout | undefined;
}

export class TradeSnapshotScheduler {
  private readonly accounts = new Map<string, AccountState>();
  private stopping = false;

  constructor(
    private readonly take: (scope: TenantScope, accountId: string) => Promise<void>,
    private readonly minIntervalMs: number,
    private readonly logger: Logger,
  ) {}

  /** A trade of the account was applied: snapshot it now, or at its next turn. */
  request(scope: TenantScope, accountId: string): void {
    if (this.stopping) return;
    const key = `${scope.schemaName}:${accountId}`;
    let s = this.accounts.get(key);
    if (!s) {
      s = {
        scope,
        accountId,
        lastStart: Number.NEGATIVE_INFINITY,
        pending: false,
        running: undefined,
        wake: undefined,
        expiry: undefined,
      };
      this.accounts.set(key, s);
    }
    if (s.expiry) clearTimeout(s.expiry);
    s.expiry = undefined;
    if (s.running || s.wake) s.pending = true;
    else this.schedule(key, s);
  }

  /** Accounts with a snapshot running or due. */
  get busy(): number {
    let n = 0;
    for (const s of this.accounts.values()) if (s.running || s.wake || s.pending) n++;
    return n;
  }

  /** Takes the snapshots that were waiting for their turn now, and waits for those running. */
  async stop(): Promise<void> {
    this.stopping = true;
    const waiting: Promise<void>[] = [];
    for (const s of this.accounts.values()) {
      if (s.expiry) clearTimeout(s.expiry);
      if (s.wake) {
        clearTimeout(s.wake);
        s.wake = undefined;
        waiting.push(this.snapshot(s));
      } else if (s.running) {
        waiting.push(s.running.then(() => (s.pending ? this.snapshot(s) : undefined)));
      }
    }
    await Promise.all(waiting);
    this.accounts.clear();
  }

  private schedule(key: string, s: AccountState): void {
    const wait = s.lastStart + this.minIntervalMs - Date.now();
    if (wait <= 0) {
      this.run(key, s);
      return;
    }
    s.wake = setTimeout(() => {
      s.wake = undefined;
      this.run(key, s);
    }, wait);
    s.wake.unref();
  }

  private run(key: string, s: AccountState): void {
    s.running = this.snapshot(s).finally(() => {
      s.running = undefined;
      if (this.stopping) return;
      if (s.pending) {
        this.schedule(key, s);
        return;
      }
      s.expiry = setTimeout(() => this.accounts.delete(key), this.minIntervalMs);
      s.expiry.unref();
    });
  }

  private snapshot(s: AccountState): Promise<void> {
    s.pending = false;
    s.lastStart = Date.now();
    return this.take(s.scope, s.accountId).catch((err: unknown) => {
      this.logger.warn({ err, accountId: s.accountId }, 'snapshot after trade failed');
    });
  }
}
