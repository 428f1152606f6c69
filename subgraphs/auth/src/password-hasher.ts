import { hash, parseOptions, verify } from '@node-rs/argon2';
import { AppError, rateLimited } from '../../../lib/errors.js';
import type { AuthConfig } from './config.js';

/** Upper bound on password length: argon2 accepts more, but huge inputs only cost us CPU. */
export const PASSWORD_MAX_LENGTH = 1024;

/**
 * argon2id hashing with the configured cost, at most `ARGON2_CONCURRENCY` computations at once (the
 * others queue, up to `ARGON2_QUEUE_MAX`; beyond that RATE_LIMITED). The library's default algorithm
 * is argon2id (its `Algorithm` enum is an ambient const enum, which isolatedModules cannot reference).
 */
export class PasswordHasher {
  private readonly options: { memoryCost: number; timeCost: number; parallelism: number };
  private dummy: Promise<string> | undefined;
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly concurrency: number;
  private readonly queueMax: number;

  constructor(
    config: Pick<AuthConfig, 'ARGON2_MEMORY_KIB' | 'ARGON2_TIME_COST' | 'ARGON2_PARALLELISM'> &
      Partial<Pick<AuthConfig, 'ARGON2_CONCURRENCY' | 'ARGON2_QUEUE_MAX'>>,
  ) {
    this.options = {
      memoryCost: config.ARGON2_MEMORY_KIB,
      timeCost: config.ARGON2_TIME_COST,
      parallelism: config.ARGON2_PARALLELISM,
    };
    this.concurrency = config.ARGON2_CONCURRENCY ?? 1;
    this.queueMax = config.ARGON2_QUEUE_MAX ?? 64;
  }

  /** Computations waiting for their turn. */
  get queued(): number {
    return this.waiting.length;
  }

  /** A PHC-format argon2id hash of `password`. */
  hash(password: string): Promise<string> {
    return this.inTurn(() => hash(password, this.options));
  }

  /** True when `password` matches `hashed`; false (never a throw) for a malformed hash. */
  async verify(hashed: string, password: string): Promise<boolean> {
    try {
      return await this.inTurn(() => verify(hashed, password));
    } catch (err) {
      // The queue was full (RATE_LIMITED); a malformed hash is a mismatch.
      if (err instanceof AppError) throw err;
      return false;
    }
  }

  /**
   * Spends the time of a real verification and returns false: used for unknown accounts so the
   * response time does not tell whether an email is registered.
   */
  async verifyDummy(password: string): Promise<false> {
    this.dummy ??= this.hash('dummy password that never matches anything');
    await this.verify(await this.dummy, password);
    return false;
  }

  /** Runs `work` when fewer than `concurrency` computations run; RATE_LIMITED when too many wait. */
  private async inTurn<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.queueMax) {
        throw rateLimited(
          1,
          `Too many sign-ins and sign-ups at once (${this.queueMax} waiting); retry shortly`,
        );
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await work();
    } finally {
      // The turn passes to the next waiter directly, so `running` stays counted for it.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  /** True when `hashed` was made with other parameters than the current ones (rehash on next login). */
  needsRehash(hashed: string): boolean {
    try {
      const p = parseOptions(hashed);
      return (
        // 2 = argon2id (see the class comment on the const enum).
        (p.algorithm as number) !== 2 ||
        p.memoryCost !== this.options.memoryCost ||
        p.timeCost !== this.options.timeCost ||
        p.parallelism !== this.options.parallelism
      );
    } catch {
      return true;
    }
  }
}
