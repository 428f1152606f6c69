import { describe, expect, it } from 'vitest';
import { PasswordHasher } from './password-hasher.js';

const cheap = { ARGON2_MEMORY_KIB: 1024, ARGON2_TIME_COST: 1, ARGON2_PARALLELISM: 1 };

describe('PasswordHasher', () => {
  it('hashes with argon2id and verifies', async () => {
    const hasher = new PasswordHasher(cheap);
    const h = await hasher.hash('correct horse battery staple');
    expect(h).toMatch(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    expect(await hasher.verify(h, 'correct horse battery staple')).toBe(true);
    expect(await hasher.verify(h, 'wrong')).toBe(false);
    expect(await hasher.verify('not a hash', 'x')).toBe(false);
    expect(await hasher.verifyDummy('anything')).toBe(false);
  });

  it('asks for a rehash when the cost parameters changed', async () => {
    const h = await new PasswordHasher(cheap).hash('pw');
    expect(new PasswordHasher(cheap).needsRehash(h)).toBe(false);
    expect(new PasswordHasher({ ...cheap, ARGON2_TIME_COST: 2 }).needsRehash(h)).toBe(true);
  });

  it('runs one computation at a time by default and refuses beyond the queue', async () => {
    const hasher = new PasswordHasher({ ...cheap, ARGON2_CONCURRENCY: 1, ARGON2_QUEUE_MAX: 2 });
    const first = hasher.hash('one');
    const waiting = [hasher.hash('two'), hasher.verifyDummy('three')];
    expect(hasher.queued).toBe(2);
    await expect(hasher.hash('four')).rejects.toMatchObject({
      code: 'RATE_LIMITED',
      details: { retryAfter: 1 },
    });
    await expect(hasher.verify(await first, 'four')).resolves.toBe(false);
    const [two] = await Promise.all(waiting);
    expect(await hasher.verify(two as string, 'two')).toBe(true);
    expect(hasher.queued).toBe(0);
  });
});
