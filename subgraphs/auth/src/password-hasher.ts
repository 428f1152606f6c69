import { hash, parseOptions, verify } from '@node-rs/argon2';
import type { Config } from '../../../lib/config.js';

/** Upper bound on password length: argon2 accepts more, but huge inputs only cost us CPU. */
export const PASSWORD_MAX_LENGTH = 1024;

/**
 * argon2id hashing with the configured cost. The library's default algorithm is argon2id (its
 * `Algorithm` enum is an ambient const enum, which isolatedModules cannot reference).
 */
export class PasswordHasher {
  private readonly options: { memoryCost: number; timeCost: number; parallelism: number };
  private dummy: Promise<string> | undefined;

  constructor(config: Pick<Config, 'ARGON2_MEMORY_KIB' | 'ARGON2_TIME_COST' | 'ARGON2_PARALLELISM'>) {
    this.options = {
      memoryCost: config.ARGON2_MEMORY_KIB,
      timeCost: config.ARGON2_TIME_COST,
      parallelism: config.ARGON2_PARALLELISM,
    };
  }

  /** A PHC-format argon2id hash of `password`. */
  hash(password: string): Promise<string> {
    return hash(password, this.options);
  }

  /** True when `password` matches `hashed`; false (never a throw) for a malformed hash. */
  async verify(hashed: string, password: string): Promise<boolean> {
    try {
      return await verify(hashed, password);
    } catch {
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
