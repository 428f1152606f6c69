import { readFileSync } from 'node:fs';
import path from 'node:path';
import { buildSchema, getIntrospectionQuery, parse, validate } from 'graphql';
import { describe, expect, it, vi } from 'vitest';
import { PROJECT_ROOT } from '../../lib/config.js';
import { AppError } from '../../lib/errors.js';
import {
  INTROSPECTION_MAX_DEPTH,
  limitValidationRules,
  OperationLimits,
  tokenLimitRefusal,
  type LimitsConfig,
} from './operation-limits.js';
import { QueryCostModel } from './query-cost.js';

const limits: LimitsConfig = {
  MAX_QUERY_DEPTH: 12,
  MAX_QUERY_ALIASES: 30,
  MAX_QUERY_TOKENS: 2000,
  MAX_QUERY_DIRECTIVES: 50,
  MAX_QUERY_COST: 50_000,
  QUERY_COST_LIST_SIZE: 10,
  QUERY_COST_PAGE_SIZE: 50,
};
const sdl = readFileSync(path.join(PROJECT_ROOT, 'schema', 'supergraph.graphql'), 'utf8');
const real = new OperationLimits(sdl, limits);

const schema = buildSchema(`
  type Query { node: Node  hello: String }
  type Node { id: ID  child: Node  name: String }
`);

/** Errors of the limit rules alone, with the given overrides. */
function refusals(query: string, overrides: Partial<LimitsConfig> = {}) {
  return validate(schema, parse(query), limitValidationRules({ ...limits, ...overrides })).map(
    (e) => e.extensions,
  );
}

describe('depth (graphql-armor)', () => {
  const nested = (depth: number): string => {
    let sel = 'id';
    for (let i = 2; i < depth; i++) sel = `child { ${sel} }`;
    return `{ node { ${sel} } }`;
  };

  it('counts fields, not fragments, and refuses with QUERY_TOO_COMPLEX and the limit', () => {
    expect(refusals(nested(2), { MAX_QUERY_DEPTH: 3 })).toEqual([]);
    expect(refusals('{ node { ... on Node { child { id } } } }', { MAX_QUERY_DEPTH: 3 })).toEqual([]);
    expect(
      refusals(
        '{ node { ...A } } fragment A on Node { child { ...B } } fragment B on Node { child { id } }',
        { MAX_QUERY_DEPTH: 3 },
      ),
    ).toEqual([{ code: 'QUERY_TOO_COMPLEX', limit: 'depth', max: 3, found: 4 }]);
    expect(refusals(nested(3), { MAX_QUERY_DEPTH: 3 })).toEqual([]);
    expect(refusals(nested(4), { MAX_QUERY_DEPTH: 3 })).toEqual([
      { code: 'QUERY_TOO_COMPLEX', limit: 'depth', max: 3, found: 4 },
    ]);
  });

  it('terminates on fragment cycles (which the standard rules report)', () => {
    const q = '{ node { ...A } } fragment A on Node { child { ...B } } fragment B on Node { child { ...A } }';
    expect(refusals(q)).toEqual([]);
  });

  it('lets the standard introspection query through a small limit, but bounds introspection too', () => {
    expect(refusals(getIntrospectionQuery(), { MAX_QUERY_DEPTH: 3 })).toEqual([]);
    let deep = 'name';
    for (let i = 0; i < INTROSPECTION_MAX_DEPTH; i++) deep = `fields { type { ${deep} } }`;
    expect(refusals(`{ __schema { types { ${deep} } } }`, { MAX_QUERY_DEPTH: 3 })).toEqual([
      expect.objectContaining({ limit: 'depth', max: INTROSPECTION_MAX_DEPTH }),
    ]);
    // __type is not exempt: it counts against the ordinary limit.
    expect(refusals('{ __type(name: "Node") { fields { type { name } } } }', { MAX_QUERY_DEPTH: 3 })).toEqual(
      [expect.objectContaining({ limit: 'depth', max: 3 })],
    );
  });
});

describe('aliases and directives (graphql-armor)', () => {
  it('counts aliases through fragments, once per spread', () => {
    expect(refusals('{ a: hello b: hello hello }', { MAX_QUERY_ALIASES: 2 })).toEqual([]);
    expect(
      refusals('{ ...F ...F x: node { id } } fragment F on Query { a: hello }', { MAX_QUERY_ALIASES: 2 }),
    ).toEqual([{ code: 'QUERY_TOO_COMPLEX', limit: 'aliases', max: 2, found: 3 }]);
  });

  it('stays finite on exponential fan-out', () => {
    const fragments = ['fragment F0 on Query { a: hello b: hello }'];
    for (let i = 1; i <= 60; i++) fragments.push(`fragment F${i} on Query { ...F${i - 1} ...F${i - 1} }`);
    expect(refusals(`{ ...F60 } ${fragments.join(' ')}`)).toEqual([
      expect.objectContaining({ limit: 'aliases', max: 30 }),
    ]);
  });

  it('counts directives, fragments expanded', () => {
    const q =
      'query ($y: Boolean!) { hello @include(if: $y) ...F } fragment F on Query { node @skip(if: $y) { id } }';
    expect(refusals(q, { MAX_QUERY_DIRECTIVES: 2 })).toEqual([]);
    expect(refusals(q, { MAX_QUERY_DIRECTIVES: 1 })).toEqual([
      { code: 'QUERY_TOO_COMPLEX', limit: 'directives', max: 1, found: 2 },
    ]);
  });
});

describe('tokens', () => {
  it('parses within the limit and refuses beyond it with QUERY_TOO_COMPLEX', () => {
    const small = new OperationLimits(sdl, { ...limits, MAX_QUERY_TOKENS: 10 });
    expect(small.parse('{ me { id email } }').kind).toBe('Document');
    expect.assertions(4);
    try {
      small.parse('{ me { id email createdAt memberships { role } } }');
    } catch (err) {
      expect(err).toBeInstanceOf(AppError);
      expect(err).toMatchObject({ code: 'QUERY_TOO_COMPLEX', details: { limit: 'tokens', max: 10 } });
    }
    expect(tokenLimitRefusal('Syntax Error: Unexpected Name "x".', 10)).toBeUndefined();
  });
});

describe('OperationLimits.check on the real supergraph', () => {
  const check = (query: string, variables: Record<string, unknown> = {}) =>
    real.check(parse(query), undefined, variables);

  it('refuses the abuse of issue 11 by cost, naming the cost and the limit', () => {
    const one =
      'accounts { orders(first: 500) { events { id } trades { order { trades { order { id } } } } } }';
    const q = `{ ${Array.from({ length: 30 }, (_, i) => `a${i}: ${one}`).join(' ')} }`;
    const verdict = check(q);
    expect(verdict.ok).toBe(false);
    if (verdict.ok) return;
    expect(verdict.limit).toBe('cost');
    expect(verdict.error.code).toBe('QUERY_TOO_COMPLEX');
    expect(verdict.error.details).toMatchObject({ limit: 'cost', maxCost: 50_000 });
    expect(verdict.error.details['cost']).toBeGreaterThan(30_000_000);
    expect(verdict.error.message).toBe(
      `Query cost ${String(verdict.error.details['cost'])} exceeds the limit of 50000`,
    );
  });

  it('uses variables for sizes', () => {
    const q = 'query ($n: Int!) { accounts { orders(first: $n) { id trades { id } } } }';
    expect(check(q, { n: 50 })).toEqual({ ok: true, cost: 10 * (1 + 50 * 11) + 10 });
    expect(check(q, { n: 500 })).toMatchObject({ ok: false, limit: 'cost' });
  });

  it('keeps the cost of a document without variables, and recomputes one with variables', () => {
    const withVariables = parse('query ($n: Int!) { accounts { orders(first: $n) { id } } }');
    expect(real.checkCost(withVariables, null, { n: 50 })).toEqual({ ok: true, cost: 10 * 51 + 10 });
    expect(real.checkCost(withVariables, null, { n: 5000 })).toMatchObject({ ok: false, limit: 'cost' });
    const named = parse('query A { me { id } } query B { accounts { id } }');
    expect(real.checkCost(named, 'A', {})).toEqual({ ok: true, cost: 1 + 10 });
    expect(real.checkCost(named, 'B', {})).toEqual({ ok: true, cost: 10 + 10 });
    expect(real.checkCost(named, 'A', {})).toEqual({ ok: true, cost: 1 + 10 });
  });

  it('keeps the cost of a document whose variables size no list (a mutation with an input)', () => {
    const place = parse(
      'mutation Place($input: PlaceOrderInput!) { placeOrder(input: $input) { id status trades { id } } }',
    );
    const input = (n: number) => ({ input: { accountId: `a${n}`, clientOrderId: `c${n}`, quantity: '1' } });
    const walks = vi.spyOn(QueryCostModel.prototype, 'cost');
    const first = real.checkCost(place, 'Place', input(1));
    expect(first).toEqual({ ok: true, cost: 1 + 10 * 1 + 10 });
    expect(real.checkCost(place, 'Place', input(2))).toEqual(first);
    expect(walks).toHaveBeenCalledTimes(1);
    walks.mockRestore();
    // Sized by a variable inside a fragment: recomputed per request.
    const sized = parse(
      'query Q($n: Int!, $s: ID!) { instrument(symbol: $s) { symbol } accounts { ...A } } fragment A on Account { orders(first: $n) { id } }',
    );
    const small = real.checkCost(sized, 'Q', { n: 5, s: 'AAPL' });
    expect(small).toMatchObject({ ok: true });
    expect(real.checkCost(sized, 'Q', { n: 5000, s: 'AAPL' })).toMatchObject({ ok: false, limit: 'cost' });
    expect(real.checkCost(sized, 'Q', { n: 5, s: 'MSFT' })).toEqual(small);
  });

  it('passes ordinary client queries by a wide margin', () => {
    for (const q of [
      '{ me { id email memberships { role tenant { id organizationName status } } } }',
      '{ accounts { id name positions { symbol quantity instrument { name } } orders(first: 50) { id status trades { id price } } } }',
      getIntrospectionQuery(),
    ]) {
      const verdict = check(q);
      expect(verdict).toMatchObject({ ok: true });
      expect(verdict.ok && verdict.cost).toBeLessThan(50_000 / 2);
    }
  });

  it('applies the shape rules first', () => {
    const q = `{ ${Array.from({ length: 31 }, (_, i) => `a${i}: me { id }`).join(' ')} }`;
    expect(check(q)).toMatchObject({ ok: false, limit: 'aliases' });
  });
});
