import type { IncomingMessage } from 'node:http';
import { buildSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { clientIpOf, validateSubscriptionDocument } from './subscription.limits.js';

const schema = buildSchema(`
  type Query { ping: String }
  type Tick { symbol: String  next: Tick }
  type Subscription { ticks: Tick }
`);
const limits = { maxBytes: 200, maxDepth: 3, maxAliases: 1 };

describe('validateSubscriptionDocument', () => {
  it('accepts a document within every limit', () => {
    const checked = validateSubscriptionDocument(
      schema,
      { query: 'subscription { ticks { a: symbol } }' },
      limits,
    );
    expect('document' in checked).toBe(true);
  });

  it.each([
    [
      'size',
      `subscription { ticks { symbol } } ${'#'.repeat(200)}`,
      'Query size 234 bytes exceeds the limit of 200',
    ],
    [
      'depth',
      'subscription { ticks { next { next { symbol } } } }',
      'Query is nested too deeply (depth 4, limit 3)',
    ],
    ['aliases', 'subscription { ticks { a: symbol b: symbol } }', 'Too many aliases (2, limit 1)'],
  ])('refuses a document over the %s limit with QUERY_TOO_COMPLEX', (limit, query, message) => {
    const checked = validateSubscriptionDocument(schema, { query }, limits);
    expect('errors' in checked && checked.limit).toBe(limit);
    const error = 'errors' in checked ? checked.errors[0] : undefined;
    expect(error?.message).toBe(message);
    expect(error?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit });
  });

  it('answers syntax and schema errors as they are, without a limit', () => {
    for (const query of ['subscription {', 'subscription { nope }', undefined]) {
      const checked = validateSubscriptionDocument(schema, { query }, limits);
      expect('errors' in checked && checked.errors.length > 0 && checked.limit === undefined).toBe(true);
    }
  });
});

describe('clientIpOf', () => {
  const request = (peer: string, forwarded?: string): IncomingMessage =>
    ({
      socket: { remoteAddress: peer },
      headers: forwarded === undefined ? {} : { 'x-forwarded-for': forwarded },
    }) as unknown as IncomingMessage;

  it('believes X-Forwarded-For only from a trusted peer, hop by hop from the right', () => {
    expect(clientIpOf(request('203.0.113.9', '198.51.100.1'))).toBe('203.0.113.9');
    expect(clientIpOf(request('127.0.0.1', '198.51.100.1'))).toBe('198.51.100.1');
    // The proxy in front reported 198.51.100.2; what that untrusted hop claims is not believed.
    expect(clientIpOf(request('127.0.0.1', '192.0.2.7, 198.51.100.2'))).toBe('198.51.100.2');
    expect(clientIpOf(request('::1', '127.0.0.1, 198.51.100.3'))).toBe('198.51.100.3');
    const trusted = (a: string): boolean => a === '10.0.0.5';
    expect(clientIpOf(request('10.0.0.5', '198.51.100.4'), trusted)).toBe('198.51.100.4');
    expect(clientIpOf(request('127.0.0.1', '198.51.100.4'), trusted)).toBe('127.0.0.1');
  });
});
