import { GraphQLError } from 'graphql';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { AppError, ErrorCode, createErrorFormatter, httpStatusFor, rateLimited } from './errors.js';

const logger = pino({ level: 'silent' });
const format = createErrorFormatter(logger);

describe('createErrorFormatter', () => {
  it('keeps a domain error code, message and details', () => {
    const err = new GraphQLError('x', { originalError: rateLimited(7), path: ['login'] });
    const out = format({ message: 'x', path: ['login'] }, err);
    expect(out).toEqual({
      message: 'Too many requests; retry later',
      path: ['login'],
      extensions: { code: 'RATE_LIMITED', retryAfter: 7 },
    });
  });

  it('masks unexpected errors, never leaking SQL or stacks', () => {
    const err = new GraphQLError('boom', {
      originalError: new Error(
        'duplicate key value violates unique constraint "users_email_key" SELECT * FROM',
      ),
    });
    const out = format(
      { message: err.message, extensions: { code: 'INTERNAL_SERVER_ERROR', stacktrace: ['at x'] } },
      err,
    );
    expect(out.message).toBe('Internal server error');
    expect(out.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
    expect(JSON.stringify(out)).not.toMatch(/SELECT|unique|stack/);
  });

  it('passes validation errors through without stack traces', () => {
    const out = format(
      {
        message: 'Cannot query field "x"',
        extensions: { code: 'GRAPHQL_VALIDATION_FAILED', stacktrace: ['a'] },
      },
      new GraphQLError('Cannot query field "x"'),
    );
    expect(out.extensions).toEqual({ code: 'GRAPHQL_VALIDATION_FAILED' });
  });

  it('maps every public code to an HTTP status', () => {
    for (const code of Object.values(ErrorCode)) expect(httpStatusFor(code)).toBeGreaterThanOrEqual(400);
    expect(httpStatusFor(new AppError(ErrorCode.NotFound, 'x').code)).toBe(404);
  });
});
