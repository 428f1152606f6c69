import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { SingleFetchPlanner } from './single-fetch.gateway.js';

const sdl = readFileSync(new URL('../../schema/supergraph.graphql', import.meta.url), 'utf8');
const planner = new SingleFetchPlanner(sdl);
const plan = (source: string, operationName: string | null = null) =>
  planner.plan(parse(source), source, operationName);

describe('single-fetch fast path: which queries take it', () => {
  it('takes plain queries answered by one subgraph', () => {
    const me = plan('query { me { id email createdAt } }');
    expect(me.fetch?.serviceName).toBe('auth');
    expect(me.failedData).toEqual({ me: null });
    const instruments = plan('query Q { list: instruments { symbol name quote { bid ask } } }', 'Q');
    expect(instruments.fetch?.serviceName).toBe('market-data');
    // instruments is non-null: a failed fetch makes data null, as the gateway does.
    expect(instruments.failedData).toBeNull();
  });

  it('takes a single-field mutation too', () => {
    expect(plan('mutation { logout }').fetch?.serviceName).toBe('auth');
    expect(plan('query A { me { id } } mutation B { logout }', 'B').fetch?.operationKind).toBe('mutation');
    // Consecutive fields of one subgraph go in one fetch, which the subgraph runs in order.
    expect(plan('mutation { a: logout b: logout }').fetch?.operation).toBe('mutation{a:logout b:logout}');
  });

  it('keeps the gateway for anything else', () => {
    // A second subgraph (trading's Instrument.position), introspection, root directives,
    // an unknown field, and the operation not chosen.
    expect(plan('query { instruments { symbol position { quantity } } }').fetch).toBeUndefined();
    expect(plan('query { __schema { queryType { name } } }').fetch).toBeUndefined();
    expect(plan('query { __typename me { id } }').fetch).toBeUndefined();
    expect(plan('query ($x: Boolean!) { me @include(if: $x) { id } }').fetch).toBeUndefined();
    expect(plan('query { nope }').fetch).toBeUndefined();
    // An operation name that is not in the document.
    expect(plan('query A { me { id } } mutation B { logout }', 'C').fetch).toBeUndefined();
  });

  it('plans the rest for the lean executor, introspection and subscriptions excepted', () => {
    const two = plan('{ me { id memberships { role tenant { id organizationName status } } } }');
    expect(two.fetch).toBeUndefined();
    expect(two.lean?.plan.node?.kind).toBe('Sequence');
    expect(plan('query { me { id } }').lean).toBeUndefined();
    expect(plan('query { __typename me { id } }').lean?.plan.node?.kind).toBe('Fetch');
    expect(plan('query { __schema { queryType { name } } me { id } }').lean).toBeUndefined();
    expect(plan('subscription { priceUpdated(symbols: ["AAPL"]) { price } }').lean).toBeUndefined();
    expect(plan('query { nope }').lean).toBeUndefined();
    // With the single-fetch path off, single fetches run on the lean executor.
    const leanOnly = new SingleFetchPlanner(sdl, { singleFetch: false, lean: true });
    const source = 'query { me { id } }';
    const me = leanOnly.plan(parse(source), source, null);
    expect(me.fetch).toBeUndefined();
    expect(me.lean?.plan.node?.kind).toBe('Fetch');
  });

  it('caches a plan per document and operation name', () => {
    const a = plan('query { me { id } }');
    expect(plan('query { me { id } }')).toBe(a);
  });
});
