import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../lib/config.js';
import { OperationLimits, type LimitsConfig } from '../operation-limits.js';
import { inTurn, SubscriptionDocuments, validateSubscriptionDocument } from './subscription.limits.js';
import { SubscriptionPlanner } from './subscription.planner.js';

// The real supergraph: the ws path must refuse exactly what HTTP refuses, cost included.
const sdl = readFileSync(path.join(PROJECT_ROOT, 'schema', 'supergraph.graphql'), 'utf8');
const schema = new SubscriptionPlanner(sdl).validationSchema;
const config: LimitsConfig = {
  MAX_QUERY_DEPTH: 3,
  MAX_QUERY_ALIASES: 1,
  MAX_QUERY_TOKENS: 2000,
  MAX_QUERY_DIRECTIVES: 50,
  MAX_QUERY_COST: 500,
  QUERY_COST_LIST_SIZE: 10,
  QUERY_COST_PAGE_SIZE: 50,
};
const limits = new OperationLimits(sdl, config);
const check = (query: string | undefined, maxBytes = 2000) =>
  validateSubscriptionDocument(schema, { query }, maxBytes, limits);

describe('validateSubscriptionDocument', () => {
  it('accepts a document within every limit', () => {
    const checked = check('subscription { priceUpdated(symbols: ["AAPL"]) { symbol p: price } }');
    expect('document' in checked).toBe(true);
  });

  it.each([
    ['size', `subscription { priceUpdated(symbols: ["AAPL"]) { symbol } } ${'#'.repeat(2000)}`],
    ['tokens', `subscription { priceUpdated(symbols: [${'"A", '.repeat(2100)}]) { symbol } }`],
    ['depth', 'subscription { priceUpdated(symbols: ["AAPL"]) { instrument { quote { symbol } } } }'],
    ['aliases', 'subscription { priceUpdated(symbols: ["AAPL"]) { a: symbol b: price } }'],
    ['cost', 'subscription { priceUpdated(symbols: ["AAPL"]) { instrument { quote { last } } } }'],
  ])('refuses a document over the %s limit with QUERY_TOO_COMPLEX', (limit, query) => {
    const bytes = limit === 'size' ? 2000 : 100_000;
    const checked =
      limit === 'cost'
        ? validateSubscriptionDocument(
            schema,
            { query },
            bytes,
            new OperationLimits(sdl, { ...config, MAX_QUERY_DEPTH: 12, MAX_QUERY_COST: 5 }),
          )
        : validateSubscriptionDocument(schema, { query }, bytes, limits);
    expect('errors' in checked && checked.limit).toBe(limit);
    const error = 'errors' in checked ? checked.errors[0] : undefined;
    expect(error?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX' });
    expect(error?.message).toMatch(/limit/);
  });

  it('answers syntax and schema errors as they are, without a limit', () => {
    for (const query of ['subscription {', 'subscription { nope }', undefined]) {
      const checked = check(query);
      expect('errors' in checked && checked.errors.length > 0 && checked.limit === undefined).toBe(true);
    }
  });
});

describe('SubscriptionDocuments', () => {
  const query = 'subscription P($s: [ID!]!) { priceUpdated(symbols: $s) { symbol price } }';

  it('parses and validates a text once per schema and limits; its subscriptions share the document', () => {
    const docs = new SubscriptionDocuments();
    const a = docs.check(schema, { query, variables: { s: ['AAPL'] } }, 2000, limits);
    const b = docs.check(schema, { query, variables: { s: ['MSFT'] } }, 2000, limits);
    expect('document' in a && 'document' in b && a.document === b.document).toBe(true);
    // Another schema or other limits (a supergraph reload): checked again.
    const other = new OperationLimits(sdl, config);
    const c = docs.check(schema, { query, variables: { s: ['AAPL'] } }, 2000, other);
    expect('document' in a && 'document' in c && a.document !== c.document).toBe(true);
  });

  it('still applies the limits that read the variables to a remembered document', () => {
    const docs = new SubscriptionDocuments();
    // Cost: the symbols list's length multiplies nothing here, so a tight cost limit refuses the
    // same document whatever the variables; the refusal comes from the remembered document too.
    const tight = new OperationLimits(sdl, { ...config, MAX_QUERY_COST: 0 });
    for (const s of [['AAPL'], ['AAPL'], ['MSFT']]) {
      const checked = docs.check(schema, { query, variables: { s } }, 2000, tight);
      expect('errors' in checked && checked.limit).toBe('cost');
    }
    // Refused texts are not remembered; valid ones are whatever their variables.
    expect('errors' in docs.check(schema, { query: 'subscription { nope }' }, 2000, limits)).toBe(true);
    expect('errors' in docs.check(schema, { query: 'subscription { nope }' }, 2000, limits)).toBe(true);
  });
});

describe('inTurn', () => {
  it('runs a socket’s subscribes one after another, each in a later turn of the event loop', async () => {
    const socket = { turn: Promise.resolve() };
    const log: string[] = [];
    const work = (name: string) => async (): Promise<string> => {
      log.push(`${name} start`);
      await Promise.resolve();
      log.push(`${name} end`);
      return name;
    };
    // Another client's I/O callback, due in the event loop's next check phase.
    setImmediate(() => log.push('other client'));
    const results = await Promise.all([
      inTurn(socket, work('a')),
      inTurn(socket, work('b')),
      inTurn(socket, work('c')),
    ]);
    expect(results).toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['a start', 'a end', 'other client', 'b start', 'b end', 'c start', 'c end']);
  });

  it('goes on after a subscribe that failed', async () => {
    const socket = { turn: Promise.resolve() };
    const failed = inTurn(socket, () => Promise.reject(new Error('refused')));
    await expect(failed).rejects.toThrow('refused');
    await expect(inTurn(socket, () => Promise.resolve('next'))).resolves.toBe('next');
  });
});
