/**
 * The in-memory window counters and their reconciliation with real Redis: exact within one process,
 * shared across "replicas" (two sync objects on two connections, one key space) one sync late, the
 * rate-limiter-flexible key layout, and failing closed when Redis cannot be reached (the cost budget's
 * admission too).
 */
import { getOperationAST, parse, type GraphQLError } from 'graphql';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unavailableRetryAfter } from '../../lib/errors.js';
import { createTestEnv, freePorts, type TestEnv } from '../../test/support/env.js';
import { eventually } from '../../test/support/wait.js';
import { admissionPlugin } from '../src/admission.plugin.js';
import { CostBudget } from '../src/cost-budget.service.js';
import type { GatewayMetrics } from '../src/gateway.metrics.js';
import { OperationLimits } from '../src/operation-limits.js';
import { WindowSync } from '../src/window-sync.counter.js';

let env: TestEnv;
let prefix: string;
const clients: Redis[] = [];
const syncs: WindowSync[] = [];

beforeAll(async () => {
  env = await createTestEnv('gateway_window_sync');
  prefix = `${env.config.REDIS_PREFIX}gateway:`;
});

afterAll(async () => {
  for (const s of syncs) await s.stop().catch(() => undefined);
  for (const c of clients) c.disconnect();
  await env?.cleanup();
});

/** A "replica": its own connection and sync, on the test's key space; the timer stays off. */
function replica(opts: { syncMs?: number; staleMs?: number; url?: string } = {}): WindowSync {
  const client = new Redis(opts.url ?? env.config.REDIS_URL, {
    keyPrefix: prefix,
    ...(opts.url ? { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null } : {}),
  });
  client.on('error', () => undefined);
  clients.push(client);
  const sync = new WindowSync(client, {
    syncMs: opts.syncMs ?? 60_000,
    ...(opts.staleMs ? { staleMs: opts.staleMs } : {}),
  });
  syncs.push(sync);
  return sync;
}

const raw = (): Redis => {
  const r = new Redis(env.config.REDIS_URL);
  clients.push(r);
  return r;
};

describe('window counters', () => {
  it('are exact in one process and count refusals when asked, in rate-limiter-flexible keys', async () => {
    const sync = replica();
    const ip = sync.counter('rl:ip', 3, 60);
    const verdicts = [1, 2, 3, 4, 5].map(() => ip.consume('10.0.0.1', 1, true).allowed);
    expect(verdicts).toEqual([true, true, true, false, false]);
    const refused = ip.consume('10.0.0.1', 1, true);
    expect(refused.msBeforeNext).toBeGreaterThan(59_000);
    expect(refused.msBeforeNext).toBeLessThanOrEqual(60_000);
    // Another key is untouched.
    expect(ip.consume('10.0.0.2', 1, true).allowed).toBe(true);
    await sync.syncNow();
    const r = raw();
    expect(await r.get(`${prefix}rl:ip:10.0.0.1`)).toBe('6');
    const ttl = await r.pttl(`${prefix}rl:ip:10.0.0.1`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('spend nothing on a refusal when asked (budgets)', async () => {
    const sync = replica();
    const budget = sync.counter('cost:tenant', 100, 60);
    expect(budget.consume('t1', 90, false).allowed).toBe(true);
    expect(budget.consume('t1', 30, false).allowed).toBe(false);
    expect(budget.consume('t1', 10, false).allowed).toBe(true);
    expect(budget.consume('t1', 1, false).allowed).toBe(false);
    await sync.syncNow();
    expect(await raw().get(`${prefix}cost:tenant:t1`)).toBe('100');
  });

  it('share counts across replicas one sync late', async () => {
    const a = replica().counter('rl:user', 8, 60);
    const bSync = replica();
    const b = bSync.counter('rl:user', 8, 60);
    for (let i = 0; i < 5; i++) expect(a.consume('u1', 1, true).allowed).toBe(true);
    // Before either syncs, B knows nothing of A's five (the documented tolerance).
    expect(b.consume('u1', 1, true).allowed).toBe(true);
    await syncs.at(-2)?.syncNow();
    await bSync.syncNow();
    // B now holds the shared total (6): two more fit, the next is refused.
    expect([1, 2, 3].map(() => b.consume('u1', 1, true).allowed)).toEqual([true, true, false]);
    await bSync.syncNow();
    expect(await raw().get(`${prefix}rl:user:u1`)).toBe('9');
  });

  it('open a new window when the last one ends', async () => {
    const sync = replica();
    const c = sync.counter('rl:tenant', 2, 1);
    expect([1, 2, 3].map(() => c.consume('t2', 1, true).allowed)).toEqual([true, true, false]);
    await sync.syncNow();
    await eventually(() => (c.consume('t2', 1, false).allowed ? true : undefined), 'the next window');
  });

  it('send what is left on stop', async () => {
    const sync = replica();
    const c = sync.counter('rl:ip', 10, 60);
    c.consume('10.0.0.3', 1, true);
    c.consume('10.0.0.3', 1, true);
    await sync.stop();
    expect(await raw().get(`${prefix}rl:ip:10.0.0.3`)).toBe('2');
  });

  it('fail closed, retryably, once Redis has been unreachable for longer than staleMs', async () => {
    const [port] = await freePorts(1);
    const sync = replica({ url: `redis://127.0.0.1:${port}`, staleMs: 100 });
    const c = sync.counter('rl:ip', 10, 60);
    expect(c.consume('10.0.0.4', 1, true).allowed).toBe(true);
    const error = await eventually(async () => {
      await sync.syncNow();
      try {
        c.consume('10.0.0.4', 1, true);
        return undefined;
      } catch (err) {
        return err;
      }
    }, 'a refusal to decide without Redis');
    expect(String(error)).toMatch(/not synced with Redis/);
    // Refused retryably (the gateway answers 503 with Retry-After), not as an unexpected error.
    expect(unavailableRetryAfter(error)).toBe(1);
  });

  it('make the cost budget refuse with 503 and Retry-After when they go stale after the rate limits passed', async () => {
    const [port] = await freePorts(1);
    const sync = replica({ url: `redis://127.0.0.1:${port}`, staleMs: 100 });
    const budget = new CostBudget(sync, { ...env.config, RATE_LIMIT_BURST_FACTOR: 0 });
    const schema = 'type Query { hello: String }';
    const plugin = admissionPlugin({
      limits: () => new OperationLimits(schema, env.config),
      budget,
      metrics: { queryCost: { observe: () => undefined } } as unknown as GatewayMetrics,
    });
    const document = parse('{ hello }');
    const hook = async (): Promise<unknown> => {
      const listener = await plugin.requestDidStart?.({} as never);
      try {
        await listener?.didResolveOperation?.({
          contextValue: {
            auth: null,
            clientIp: '10.0.0.9',
            tenantLimits: undefined,
            logger: pino({ level: 'silent' }),
          },
          document,
          operation: getOperationAST(document),
          operationName: null,
          request: { variables: {} },
          metrics: {},
          queryHash: 'h',
        } as never);
        return undefined;
      } catch (err) {
        return err;
      }
    };
    // Spent while fresh (something to sync), then every sync fails until the counts go stale.
    expect(await hook()).toBeUndefined();
    const refused = await eventually(async () => {
      await sync.syncNow();
      return (await hook()) as GraphQLError | undefined;
    }, 'a refusal once the counters are stale');
    expect(refused.extensions).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', retryAfter: 1 });
    const http = refused.extensions['http'] as { status: number; headers: Map<string, string> };
    expect(http.status).toBe(503);
    expect(http.headers.get('retry-after')).toBe('1');
    expect(refused.message).toMatch(/Rate limits could not be checked/);
  });
});
