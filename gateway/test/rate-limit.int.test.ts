/**
 * Rate limits in real Redis: per IP, per user and per tenant, answered with HTTP 429, `Retry-After`
 * and RATE_LIMITED. Each gateway here gets its own key prefix so the scopes do not mix.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channels } from '../../contracts/redis-names.js';
import type { Config } from '../../lib/config.js';
import {
  pollUntil,
  post,
  startGatewayBed,
  type Answer,
  type AuthFixtures,
  type EchoSubgraph,
  type GatewayBed,
  type TenantLimitsFixture,
} from './support/harness.js';

let bed: GatewayBed;
let echo: EchoSubgraph;
let auth: AuthFixtures;
let tenantLimits: TenantLimitsFixture;

beforeAll(async () => {
  bed = await startGatewayBed('gateway_rl');
  ({ echo, auth, tenantLimits } = bed.world);
});

afterAll(async () => {
  await bed?.stop();
});

/** Starts a gateway with the given limits and a key prefix of its own; returns its /graphql URL. */
async function gatewayWith(limits: Partial<Config>, name: string): Promise<string> {
  const { url } = await bed.gateway({ RATE_LIMIT_WINDOW_SECONDS: 60, ...limits }, name);
  return `${url}/graphql`;
}

function expectLimited(res: Answer): void {
  expect(res.status).toBe(429);
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter });
  expect(res.body.data).toBeUndefined();
}

describe('rate limits', () => {
  it('limits per client IP, bad tokens included, and counts the refusals', async () => {
    const url = await gatewayWith(
      { RATE_LIMIT_PER_IP: 4, RATE_LIMIT_PER_USER: 1000, RATE_LIMIT_PER_TENANT: 1000 },
      'ip',
    );
    for (let i = 0; i < 3; i++) expect((await post(url, { query: '{ hello }' })).status).toBe(200);
    expect((await post(url, { query: '{ hello }' }, { authorization: 'Bearer forged' })).status).toBe(401);
    const before = echo.received.length;
    expectLimited(await post(url, { query: '{ hello }' }));
    expectLimited(await post(url, { query: '{ hello }' }, { authorization: `Bearer ${await auth.mint()}` }));
    expect(echo.received.length).toBe(before);
    const metrics = await (await fetch(url.replace('/graphql', '/metrics'))).text();
    expect(metrics).toMatch(/gateway_rate_limited_total\{[^}]*scope="ip"[^}]*\} 2/);
  });

  it('limits per user, whatever the session', async () => {
    const url = await gatewayWith(
      { RATE_LIMIT_PER_IP: 1000, RATE_LIMIT_PER_USER: 3, RATE_LIMIT_PER_TENANT: 1000 },
      'user',
    );
    const sub = 'user-1';
    for (let i = 0; i < 3; i++) {
      const token = await auth.mint({ sub });
      expect((await post(url, { query: '{ hello }' }, { authorization: `Bearer ${token}` })).status).toBe(
        200,
      );
    }
    expectLimited(
      await post(url, { query: '{ hello }' }, { authorization: `Bearer ${await auth.mint({ sub })}` }),
    );
    // Another user and anonymous callers are unaffected.
    const other = await post(url, { query: '{ hello }' }, { authorization: `Bearer ${await auth.mint()}` });
    expect(other.status).toBe(200);
    expect((await post(url, { query: '{ hello }' })).status).toBe(200);
  });

  it('limits per tenant across its users', async () => {
    const url = await gatewayWith(
      { RATE_LIMIT_PER_IP: 1000, RATE_LIMIT_PER_USER: 1000, RATE_LIMIT_PER_TENANT: 3 },
      'tenant',
    );
    const tid = 'tenant-1';
    for (let i = 0; i < 3; i++) {
      const token = await auth.mint({ tid });
      expect((await post(url, { query: '{ hello }' }, { authorization: `Bearer ${token}` })).status).toBe(
        200,
      );
    }
    const res = await post(
      url,
      { query: '{ hello }' },
      { authorization: `Bearer ${await auth.mint({ tid })}` },
    );
    expectLimited(res);
    const metrics = await (await fetch(url.replace('/graphql', '/metrics'))).text();
    expect(metrics).toMatch(/gateway_rate_limited_total\{[^}]*scope="tenant"[^}]*\} 1/);
    const otherTenant = await post(
      url,
      { query: '{ hello }' },
      { authorization: `Bearer ${await auth.mint()}` },
    );
    expect(otherTenant.status).toBe(200);
  });

  it("applies a tenant's own limits, scaled to the window, and follows a change at once", async () => {
    // A 30 s window: a tenant's per-minute figures are halved; the defaults are per window.
    const limits = { RATE_LIMIT_PER_IP: 1000, RATE_LIMIT_PER_USER: 1000, RATE_LIMIT_PER_TENANT: 2 };
    const url = await gatewayWith({ ...limits, RATE_LIMIT_WINDOW_SECONDS: 30 }, 'plan');
    const ask = async (tid: string): Promise<Answer> =>
      post(url, { query: '{ hello }' }, { authorization: `Bearer ${await auth.mint({ tid })}` });
    const big = 'tenant-big';
    tenantLimits.set(big, { requestsPerMinute: 10 });
    for (let i = 0; i < 5; i++) expect((await ask(big)).status).toBe(200);
    const over = await ask(big);
    expectLimited(over);
    expect(over.body.errors?.[0]?.message).toBe('Request rate limit per tenant reached (5 per 30 s)');
    expect(over.body.errors?.[0]?.extensions).toMatchObject({
      limit: 'requests_per_tenant',
      max: 5,
      windowSeconds: 30,
    });
    // Looked up once: the answer is kept.
    expect(tenantLimits.calls.get(big)).toBe(1);

    // A tenant that set nothing (404) has the defaults.
    const plain = 'tenant-plain';
    for (let i = 0; i < 2; i++) expect((await ask(plain)).status).toBe(200);
    expect((await ask(plain)).body.errors?.[0]?.extensions?.['max']).toBe(2);

    // A change is published by the tenants service: the gateway drops its answer and asks again.
    tenantLimits.set(big, { requestsPerMinute: 40 });
    const publisher = new Redis(bed.env.config.REDIS_URL);
    try {
      await publisher.publish(channels.tenantLimitsChanged(`${bed.env.config.REDIS_PREFIX}plan:`), big);
    } finally {
      publisher.disconnect();
    }
    expect(await pollUntil(async () => (await ask(big)).status === 200, 5000)).toBe(true);
    expect(tenantLimits.calls.get(big)).toBe(2);
  });

  it('falls back to the defaults, not to an error, while the tenants service cannot answer', async () => {
    const url = await gatewayWith(
      { RATE_LIMIT_PER_IP: 1000, RATE_LIMIT_PER_USER: 1000, RATE_LIMIT_PER_TENANT: 2 },
      'plan-down',
    );
    const tid = 'tenant-while-down';
    tenantLimits.set(tid, { requestsPerMinute: 100 });
    tenantLimits.fail(true);
    try {
      const token = await auth.mint({ tid });
      const ask = (): Promise<Answer> =>
        post(url, { query: '{ hello }' }, { authorization: `Bearer ${token}` });
      expect((await ask()).status).toBe(200);
      expect((await ask()).status).toBe(200);
      expectLimited(await ask());
    } finally {
      tenantLimits.fail(false);
    }
  });

  it("holds every limit over the burst window too, a tenant's own limits scaled alike", async () => {
    // Windows long enough that no boundary passes during the test: 600 s, bursts of 60 s at the
    // average rate (factor 1), so 100 per window allows 10 per burst.
    const url = await gatewayWith(
      {
        RATE_LIMIT_WINDOW_SECONDS: 600,
        RATE_LIMIT_BURST_SECONDS: 60,
        RATE_LIMIT_BURST_FACTOR: 1,
        RATE_LIMIT_PER_IP: 100_000,
        RATE_LIMIT_PER_USER: 100,
        RATE_LIMIT_PER_TENANT: 100_000,
      },
      'burst',
    );
    const sub = 'bursting-user';
    const ask = async (claims: { sub?: string; tid?: string }): Promise<Answer> =>
      post(url, { query: '{ hello }' }, { authorization: `Bearer ${await auth.mint(claims)}` });
    for (let i = 0; i < 10; i++) expect((await ask({ sub })).status).toBe(200);
    const over = await ask({ sub });
    expectLimited(over);
    expect(over.body.errors?.[0]?.message).toBe('Request rate limit per user reached (10 per 60 s)');
    expect(over.body.errors?.[0]?.extensions).toMatchObject({ limit: 'requests_per_user', max: 10 });

    // A tenant's own figure (3 a minute: 30 per 600 s window) bursts at 3 per 60 s.
    const tid = 'tenant-bursting';
    tenantLimits.set(tid, { requestsPerMinute: 3 });
    for (let i = 0; i < 3; i++) expect((await ask({ tid })).status).toBe(200);
    const tenantOver = await ask({ tid });
    expectLimited(tenantOver);
    expect(tenantOver.body.errors?.[0]?.extensions).toMatchObject({
      limit: 'requests_per_tenant',
      max: 3,
      windowSeconds: 60,
    });
  });
});
