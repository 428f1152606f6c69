/**
 * Per-tenant fairness through the real gateway (gateway/src/tenant-fairness.ts), with real Redis and
 * the echo subgraph's `slow` field holding operations in flight, on both execution paths: a tenant
 * beyond its in-flight bound waits, beyond its queue bound is refused with RATE_LIMITED and
 * Retry-After, while another tenant's operation runs at once; with the gateway's own bound reached,
 * freed slots go round robin between tenants, not in arrival order.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../lib/config.js';
import { createTestEnv, type TestEnv } from '../../test/support/env.js';
import { createGateway, type GatewayService } from '../src/gateway.js';
import { pollUntil, post, startEchoWorld, type Answer, type EchoWorld } from './support/harness.js';

let env: TestEnv;
let world: EchoWorld;
const running: GatewayService[] = [];

beforeAll(async () => {
  env = await createTestEnv('gateway_fairness');
  world = await startEchoWorld(env);
});

afterAll(async () => {
  for (const g of running) await g.stop();
  await world?.stop();
  await env?.cleanup();
});

async function gatewayWith(name: string, overrides: Partial<Config>): Promise<string> {
  const g = createGateway({
    ...world.config,
    ...overrides,
    REDIS_PREFIX: `${env.config.REDIS_PREFIX}${name}:`,
  });
  running.push(g);
  const { url } = await g.start();
  return `${url}/graphql`;
}

const tenantToken = (): Promise<string> => world.auth.mint({ sub: randomUUID(), tid: randomUUID() });
const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
/** Distinct documents: identical concurrent fetches would be shared (GATEWAY_DEDUPE). */
const slow = (ms: number): { query: string } => ({ query: `{ slow(ms: ${ms}) }` });

/** A sample of the gateway's /metrics; `labels` must all be among the sample's labels. */
async function metric(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(url.replace('/graphql', '/metrics'))).text();
  const line = text
    .split('\n')
    .find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && l.includes(labels));
  return Number(line?.split(' ').at(-1) ?? 0);
}

describe.each([true, false])('tenant fairness (fast paths: %s)', (single) => {
  it('queues a tenant beyond its in-flight bound, refuses beyond its queue, and lets another tenant through', async () => {
    const url = await gatewayWith(`bounds_${String(single)}`, {
      GATEWAY_SINGLE_FETCH: single,
      GATEWAY_LEAN_EXECUTOR: single,
      GATEWAY_TENANT_MAX_IN_FLIGHT: 2,
      GATEWAY_TENANT_QUEUE_MAX: 2,
      // The bounds from the first operation on (by default they apply only on a busy gateway).
      GATEWAY_FAIRNESS_FREE_IN_FLIGHT: 0,
      GATEWAY_QUEUE_TIMEOUT_MS: 120_000,
    });
    const [a, b] = [await tenantToken(), await tenantToken()];
    const base = world.echo.counters.slow;
    // Long enough that A's first two are still running when B's answer and A's refusals are checked.
    const hold = 10_000 + (single ? 0 : 100);
    const answers = Array.from({ length: 6 }, (_, i) => post(url, slow(hold + i), bearer(a)));
    expect(await pollUntil(() => Promise.resolve(world.echo.counters.slow - base === 2), 20_000)).toBe(true);

    const other = await post(url, { query: '{ hello }' }, bearer(b));
    expect(other.status).toBe(200);
    expect(other.body.data).toEqual({ hello: 'world' });

    // Two of A's run, two wait (they never reached the subgraph), two are refused at once.
    const settled = await Promise.all(answers);
    const refused = settled.filter((r) => r.status === 429);
    expect(refused).toHaveLength(2);
    for (const r of refused) {
      expect(r.headers.get('retry-after')).toBe('1');
      expect(r.body.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter: 1 });
      expect(r.body.errors?.[0]?.message).toMatch(/Too many operations of this tenant in flight/);
    }
    const done = settled.filter((r: Answer) => r.status === 200);
    expect(done.map((r) => r.body.data)).toEqual(Array.from({ length: 4 }, () => ({ slow: 'done' })));
    expect(world.echo.counters.slow - base).toBe(4);
    expect(await metric(url, 'gateway_fairness_refused_total', 'reason="queue_full"')).toBe(2);
    expect(await metric(url, 'gateway_fairness_queued_total')).toBe(2);
    expect(await metric(url, 'gateway_fairness_in_flight')).toBe(0);
  });
});

describe('tenant fairness across tenants', () => {
  it('hands freed slots round robin between tenants once the gateway bound is reached', async () => {
    const url = await gatewayWith('round_robin', {
      GATEWAY_MAX_IN_FLIGHT: 1,
      GATEWAY_QUEUE_TIMEOUT_MS: 120_000,
    });
    const [a, b] = [await tenantToken(), await tenantToken()];
    const order: string[] = [];
    const send = (who: string, token: string, ms: number): Promise<void> =>
      post(url, slow(ms), bearer(token)).then((r) => {
        expect(r.body.data).toEqual({ slow: 'done' });
        order.push(who);
      });
    const base = world.echo.counters.slow;
    // A's first holds the one slot while the rest arrive (long enough for that on a loaded machine).
    const first = send('a1', a, 8000);
    expect(await pollUntil(() => Promise.resolve(world.echo.counters.slow - base === 1), 20_000)).toBe(true);
    const rest = [send('a2', a, 301), send('a3', a, 302), send('a4', a, 303)];
    // B arrives last, behind three of A's, and is served after A's next one, not after all of them.
    expect(await pollUntil(() => metric(url, 'gateway_fairness_waiting').then((n) => n === 3), 20_000)).toBe(
      true,
    );
    rest.push(send('b1', b, 304));
    await Promise.all([first, ...rest]);
    expect(order).toEqual(['a1', 'a2', 'b1', 'a3', 'a4']);
  });
});
