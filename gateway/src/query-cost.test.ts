import { readFileSync } from 'node:fs';
import path from 'node:path';
import { getIntrospectionQuery, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/config.js';
import { QueryCostModel } from './query-cost.js';

const sdl = readFileSync(path.join(PROJECT_ROOT, 'schema', 'supergraph.graphql'), 'utf8');
const model = new QueryCostModel(sdl, { listSize: 10, pageSize: 50, fetchCost: 10 });
const cost = (query: string, variables: Record<string, unknown> = {}, operationName?: string) =>
  model.cost(parse(query), operationName, variables);

/** The abuse of issue 11 (with `events { id }`: `events` alone does not validate). */
const wide = (aliases: number): string => {
  const one =
    'accounts { orders(first: 500) { events { id } trades { order { trades { order { id } } } } } }';
  return `{ ${Array.from({ length: aliases }, (_, i) => `a${i}: ${one}`).join(' ')} }`;
};

describe('query cost on the real supergraph', () => {
  it('counts objects, multiplies lists by first / the defaults, and nested lists multiply', () => {
    // accounts (10) x (1 + positions 10 + orders 50 x (1 + trades 10))
    expect(cost('{ accounts { positions { symbol } orders(first: 50) { id trades { id } } } }')).toEqual({
      objects: 10 * (1 + 10 + 50 * (1 + 10)),
      fetches: 1,
      cost: 10 * (1 + 10 + 50 * 11) + 10,
    });
    // A paginated list without its size argument counts a default page (50), not a short list.
    expect(cost('{ accounts { orders { id } } }')?.objects).toBe(10 * (1 + 50));
    // Scalars are free; a schema default size is used when the argument is omitted (events(first = 20)).
    expect(cost('{ mySessions { id events { type } } }')?.objects).toBe(10 * (1 + 20));
  });

  it('resolves sizes from variables, then the variable default, then the field default', () => {
    const q = 'query ($n: Int = 7) { accounts { orders(first: $n) { id } } }';
    expect(cost(q, { n: 200 })?.objects).toBe(10 * (1 + 200));
    expect(cost(q, {})?.objects).toBe(10 * (1 + 7));
    expect(cost('query ($n: Int) { accounts { orders(first: $n) { id } } }', { n: null })?.objects).toBe(
      10 * (1 + 50),
    );
  });

  it('adds a fetch per entity boundary, once whatever the list sizes', () => {
    const local = cost('{ accounts { positions { symbol } } }');
    const across = cost('{ accounts { positions { symbol instrument { name assetClass } } } }');
    expect(local?.fetches).toBe(1);
    // Position.instrument is trading's; name and assetClass are market-data's: one more fetch.
    expect(across?.fetches).toBe(2);
    expect(across?.objects).toBe(10 * (1 + 10 * (1 + 1)));
    // User.memberships lives in tenants: me (auth) + memberships (tenants).
    expect(cost('{ me { id email memberships { role tenant { id organizationName status } } } }')).toEqual({
      objects: 1 + 10 * (1 + 1),
      fetches: 2,
      cost: 21 + 20,
    });
    // Root fields of two subgraphs: two fetches.
    expect(cost('{ me { id } instruments { symbol } }')?.fetches).toBe(2);
  });

  it('expands fragments (each spread counts) and stays finite on exponential spreads', () => {
    const viaFragments = cost(
      '{ accounts { ...A ...A } } fragment A on Account { orders(first: 5) { ...O } } fragment O on Order { id trades { id } }',
    );
    expect(viaFragments?.objects).toBe(10 * (1 + 2 * 5 * (1 + 10)));
    const fragments = ['fragment F0 on Query { accounts { id } }'];
    for (let i = 1; i <= 60; i++) fragments.push(`fragment F${i} on Query { ...F${i - 1} ...F${i - 1} }`);
    expect(cost(`{ ...F60 } ${fragments.join(' ')}`)?.cost).toBeGreaterThan(1e15);
  });

  it('picks the named operation and counts introspection like any list', () => {
    const doc = 'query A { me { id } } query B { accounts { id } }';
    expect(cost(doc, {}, 'B')?.objects).toBe(10);
    expect(cost(doc, {}, 'C')).toBeUndefined();
    expect(cost(doc)).toBeUndefined();
    const introspection = cost(getIntrospectionQuery());
    expect(introspection?.fetches).toBe(0);
    expect(introspection?.cost).toBeGreaterThan(1000);
  });

  it('puts the abuse of issue 11 far above ordinary client queries', () => {
    const ordinary = [
      '{ me { id email memberships { role tenant { id organizationName status } } } }',
      '{ accounts { id name cash positions { symbol quantity averageCost instrument { name } } orders(first: 50) { id status side quantity trades { id price } events { id type } } } }',
      '{ performanceReport(accountId: "a") { totalReturn monthlyReturns { month return } equityCurve { at equity } } riskReport(accountId: "a") { exposureBySymbol { symbol } rollingVolatility { at } } }',
      '{ dashboards { id name widgets { id } } }',
      getIntrospectionQuery(),
    ].map((q) => cost(q)?.cost ?? Infinity);
    const heaviest = Math.max(...ordinary);
    expect(heaviest).toBeLessThan(20_000);
    const single = cost(wide(1))?.cost ?? 0;
    expect(single).toBeGreaterThan(1_000_000);
    expect(cost(wide(30))?.cost).toBe(30 * single - 29 * 10);
  });
});
