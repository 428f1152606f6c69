import { describe, expect, it } from 'vitest';
import { isRetryable, tenantError } from './tenant-scope.js';

/** What drizzle throws for a failed query: its own error, PostgreSQL's on `cause`. */
const wrapped = (code: string, message = 'failed'): Error =>
  Object.assign(new Error('Failed query: select ...'), {
    cause: Object.assign(new Error(message), { code }),
  });

describe('tenant-scope errors', () => {
  it("answers a tenant still provisioning (its tables missing) as NOT_FOUND, from pg's error or drizzle's", () => {
    for (const err of [
      Object.assign(new Error('relation does not exist'), { code: '42P01' }),
      wrapped('42P01'),
    ]) {
      expect(tenantError(err)).toMatchObject({ name: 'AppError', code: 'NOT_FOUND' });
    }
  });

  it('leaves other errors as they are', () => {
    const err = wrapped('23505');
    expect(tenantError(err)).toBe(err);
  });

  it('retries serialization failures and deadlocks, wrapped or not', () => {
    expect(isRetryable(wrapped('40001'))).toBe(true);
    expect(isRetryable(Object.assign(new Error('deadlock'), { code: '40P01' }))).toBe(true);
    expect(isRetryable(wrapped('23505'))).toBe(false);
    expect(isRetryable(new Error('no code'))).toBe(false);
  });
});
