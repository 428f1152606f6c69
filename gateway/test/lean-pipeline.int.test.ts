/**
 * The lean request pipeline (gateway/src/lean-pipeline.ts) against Apollo Server's: gateways over
 * the same test subgraph, one with GATEWAY_LEAN_PIPELINE off, must answer every request the same
 * (status, headers, bytes), whether the lean pipeline answers it or hands it to Apollo Server part
 * way (a context refused, admission refused, an answer with errors), and must run each operation
 * once. `graphql_pipeline_total` shows which pipeline answered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postRaw, type RawAnswer as Raw } from '../../test/support/graphql.js';
import { startGatewayBed, type GatewayBed } from './support/harness.js';

let bed: GatewayBed;
let lean: string;
let apollo: string;
let leanCostly: string;
let apolloCostly: string;
let leanLimited: string;
let apolloLimited: string;

beforeAll(async () => {
  bed = await startGatewayBed('gw_lean_pipeline');
  const base = { GATEWAY_DEDUPE: false };
  // Each gateway counts its rate limits and budgets under its own prefix.
  const start = async (overrides: Record<string, unknown>, prefix: string): Promise<string> =>
    (await bed.gateway({ ...base, ...overrides }, prefix)).url;
  [lean, apollo, leanCostly, apolloCostly, leanLimited, apolloLimited] = await Promise.all([
    start({}, 'lean'),
    start({ GATEWAY_LEAN_PIPELINE: false }, 'apollo'),
    start({ MAX_QUERY_COST: 1 }, 'lean-cost'),
    start({ MAX_QUERY_COST: 1, GATEWAY_LEAN_PIPELINE: false }, 'apollo-cost'),
    start({ RATE_LIMIT_PER_IP: 3, RATE_LIMIT_BURST_FACTOR: 0 }, 'lean-rate'),
    start({ RATE_LIMIT_PER_IP: 3, RATE_LIMIT_BURST_FACTOR: 0, GATEWAY_LEAN_PIPELINE: false }, 'apollo-rate'),
  ]);
});

afterAll(async () => {
  await bed?.stop();
});

async function pipelineCount(base: string, path: 'lean' | 'apollo'): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`graphql_pipeline_total{path="${path}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** One POST; the request id is the client's, so the answers compare. */
function send(base: string, body: unknown, headers: Record<string, string>): Promise<Raw> {
  return postRaw(base, body, { 'x-request-id': 'lean-pipeline-test', ...headers });
}

/**
 * Sends the body to the lean gateway and to the Apollo one, twice each (the first time Apollo
 * Server validates the document on both), and expects the same answers; returns the lean gateway's
 * second answer and the pipeline that answered it.
 */
async function expectSame(
  pair: [string, string],
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ answer: Raw; path: 'lean' | 'apollo' }> {
  const [leanBase, apolloBase] = pair;
  expect(await send(leanBase, body, headers)).toEqual(await send(apolloBase, body, headers));
  const before = await pipelineCount(leanBase, 'lean');
  const answer = await send(leanBase, body, headers);
  const path = (await pipelineCount(leanBase, 'lean')) > before ? 'lean' : 'apollo';
  expect(answer).toEqual(await send(apolloBase, body, headers));
  return { answer, path };
}

describe('lean pipeline', () => {
  it.each([
    { name: 'no Accept header', headers: {} },
    { name: 'Accept: application/json', headers: { accept: 'application/json' } },
    { name: 'Accept: */*', headers: { accept: '*/*' } },
    { name: 'Accept: graphql-response+json', headers: { accept: 'application/graphql-response+json' } },
  ])('answers a validated document itself, as Apollo Server does ($name)', async ({ headers }) => {
    const body = { query: '{ hello n: node { id child { id } } }' };
    const { answer, path } = await expectSame([lean, apollo], body, headers);
    expect(path).toBe('lean');
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toEqual({
      data: { hello: 'world', n: { id: 'n1', child: { id: 'n2' } } },
    });
  });

  it('answers with the operation and variables the request names, for a signed-in caller', async () => {
    const token = await bed.world.auth.mint({ sub: 'u-lean', sid: 's-lean', tid: 't-lean' });
    const body = {
      query: 'query A { hello } query Q($ms: Int) { slow(ms: $ms) }',
      operationName: 'Q',
      variables: { ms: 1 },
    };
    const { answer, path } = await expectSame([lean, apollo], body, { authorization: `Bearer ${token}` });
    expect(path).toBe('lean');
    expect(JSON.parse(answer.text)).toEqual({ data: { slow: 'done' } });
  });

  it('passes a subgraph cache hint on in Cache-Control', async () => {
    const { answer, path } = await expectSame([lean, apollo], { query: '{ cached }' });
    expect(path).toBe('lean');
    expect(answer.headers).toContainEqual(['cache-control', 'max-age=30, public']);
  });

  it('hands answers with errors to Apollo Server, which formats them, without running them twice', async () => {
    const counters = bed.world.echo.counters;
    for (const query of ['{ slow(ms: 1) boom }', '{ slow(ms: 1) missing }']) {
      const before = counters.slow;
      const { answer, path } = await expectSame([lean, apollo], { query });
      expect(path).toBe('apollo');
      // Two requests to each of the two gateways: one execution each.
      expect(counters.slow).toBe(before + 4);
      const errors = (JSON.parse(answer.text) as { errors: { extensions: { code: string } }[] }).errors;
      expect(errors.length).toBe(1);
    }
  });

  it('hands bad variables to Apollo Server, answered as before', async () => {
    const body = { query: 'query Q($ms: Int) { slow(ms: $ms) }', variables: { ms: 'soon' } };
    const { answer, path } = await expectSame([lean, apollo], body);
    expect(path).toBe('apollo');
    expect(answer.text).toContain('BAD_USER_INPUT');
  });

  it('leaves Accept headers it cannot serve, and mutations, to the same answers', async () => {
    const refused = await expectSame([lean, apollo], { query: '{ hello }' }, { accept: 'text/plain' });
    expect(refused.path).toBe('apollo');
    expect(refused.answer.status).toBe(406);
    const before = bed.world.echo.counters.poke;
    const poke = await send(lean, { query: 'mutation { poke }' }, {});
    const again = await send(lean, { query: 'mutation { poke }' }, {});
    expect(bed.world.echo.counters.poke).toBe(before + 2);
    expect(JSON.parse(again.text)).toEqual({ data: { poke: before + 2 } });
    expect(poke.status).toBe(200);
  });

  it('hands a refused admission to Apollo Server with its verdict (the cost limit)', async () => {
    // Variables: a variable-free refusal would be answered from the refused-documents memory.
    const body = { query: 'query Q($ms: Int) { slow(ms: $ms) node { id } }', variables: { ms: 1 } };
    const { answer, path } = await expectSame([leanCostly, apolloCostly], body);
    expect(path).toBe('apollo');
    expect(answer.status).toBe(400);
    expect(answer.text).toContain('QUERY_TOO_COMPLEX');
    expect(await pipelineCount(leanCostly, 'lean')).toBe(0);
  });

  it('hands a refused context to Apollo Server (the rate limit), answered as before', async () => {
    const answers: [Raw, Raw][] = [];
    for (let i = 0; i < 5; i++) {
      answers.push([
        await send(leanLimited, { query: '{ hello }' }, {}),
        await send(apolloLimited, { query: '{ hello }' }, {}),
      ]);
    }
    for (const [mine, theirs] of answers) expect(mine).toEqual(theirs);
    expect(answers.map(([a]) => a.status)).toEqual([200, 200, 200, 429, 429]);
    // The second and third were the lean pipeline's; the refusals Apollo Server's.
    expect(await pipelineCount(leanLimited, 'lean')).toBe(2);
  });
});
