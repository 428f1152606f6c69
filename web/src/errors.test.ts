import { CombinedGraphQLErrors, ServerError } from '@apollo/client/errors';
import { describe, expect, it } from 'vitest';
import { describeError, describeRejectReason, errorCode, isNetworkError } from './errors';

const gqlError = (code: string, message = 'm', extra: Record<string, unknown> = {}): CombinedGraphQLErrors =>
  new CombinedGraphQLErrors({ data: null }, [{ message, extensions: { code, ...extra } }]);

describe('describeError', () => {
  it('gives a sentence for every code of the contract, never the raw error', () => {
    const codes = [
      'UNAUTHENTICATED',
      'FORBIDDEN',
      'BAD_USER_INPUT',
      'NOT_FOUND',
      'CONFLICT',
      'RATE_LIMITED',
      'RISK_REJECTED',
      'INTERNAL_SERVER_ERROR',
    ];
    for (const code of codes) {
      const text = describeError(gqlError(code, 'SELECT * FROM secret'));
      expect(text).toMatch(/^[A-Z].*\.$/);
      expect(text).not.toContain('{');
      if (!['BAD_USER_INPUT', 'FORBIDDEN', 'NOT_FOUND'].includes(code)) expect(text).not.toContain('SELECT');
    }
    expect(errorCode(gqlError('CONFLICT'))).toBe('CONFLICT');
  });

  it('says when to retry a rate-limited request', () => {
    expect(describeError(gqlError('RATE_LIMITED', 'slow down', { retryAfter: 12 }))).toBe(
      'Too many requests. Try again in 12 s.',
    );
    expect(describeError(gqlError('RATE_LIMITED', 'slow down', { retryAfter: 600 }))).toBe(
      'Too many requests. Try again in 10 min.',
    );
  });

  it('tells a network failure (safe to retry) from an answer', () => {
    const down = new TypeError('Failed to fetch');
    expect(isNetworkError(down)).toBe(true);
    expect(describeError(down)).toMatch(/cannot be reached/);
    expect(isNetworkError(gqlError('BAD_USER_INPUT'))).toBe(false);
    const badGateway = new ServerError('bad gateway', {
      response: new Response('', { status: 502 }),
      bodyText: '',
    });
    expect(isNetworkError(badGateway)).toBe(true);
  });

  it('words reject reasons, falling back to the service message for a new code', () => {
    expect(describeRejectReason('INSUFFICIENT_BUYING_POWER')).toBe('Not enough buying power for this order.');
    expect(describeRejectReason('SOMETHING_NEW', 'A new check failed.')).toBe('A new check failed.');
    expect(describeRejectReason('SOMETHING_NEW')).toBe('something new');
  });
});
