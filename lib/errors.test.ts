import { GraphQLError } from 'graphql';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { countFormattedFrames } from '../test/support/stack-frames.js';
import {
  AppError,
  ErrorCode,
  createErrorFormatter,
  httpStatusFor,
  quotaExceeded,
  rateLimited,
  toGraphQLError,
  withoutStack,
} from './errors.js';

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

describe('errors that are answers', () => {
  const stacks = countFormattedFrames();

  it('are wrapped in a GraphQLError without formatting any stack', () => {
    // graphql-js copies a wrapped error's stack over its own, which makes V8 format its own frames
    // (through the source maps in production); an answer has no stack to copy, and no frames.
    stacks.install();
    const refusal = rateLimited(3, 'too many');
    const other = withoutStack(() => new Error('refused'));
    const wrapped = [refusal, other].map((originalError) => new GraphQLError('x', { originalError }));
    expect(stacks.traces).toBe(0);
    expect(refusal.stack).toBeUndefined();
    expect(wrapped[0]?.originalError).toBe(refusal);
    // A fault keeps its stack.
    const fault = new GraphQLError('x', { originalError: new Error('boom') });
    expect(fault.stack).toBe('boom');
    expect(stacks.traces).toBeGreaterThan(0);
  });

  it('become GraphQLErrors with their code and details, and no frames captured', () => {
    stacks.install();
    const refusal = toGraphQLError(quotaExceeded('Too many live subscriptions', { limit: 'per_socket' }));
    expect(refusal.message).toBe('Too many live subscriptions');
    expect(refusal.extensions).toEqual({ code: 'QUOTA_EXCEEDED', limit: 'per_socket' });
    expect(refusal.stack).toBeUndefined();
    expect(stacks.frames).toBe(0);
    // A GraphQLError built the usual way captures its frames.
    void new GraphQLError('x').stack;
    expect(stacks.frames).toBeGreaterThan(0);
  });
});
