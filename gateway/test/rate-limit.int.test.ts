/**
 * Rate limits in real Redis: per IP, per user and per tenant, answered with HTTP 429, `Retry-After`
 * and RATE_LIMITED. Each gateway here gets its own key prefix so the scopes do not mix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../lib/config.js';
import {
  post,
  startGatewayBed,
  type Answer,
  type AuthFixtures,
  type EchoSubgraph,
  type GatewayBed,
} from './support/harness.js';

let bed: GatewayBed;
let echo: EchoSubgraph;
let auth: AuthFixtures;

beforeAll(async () => {
  bed = await startGatewayBed('gateway_rl');
  ({ echo, auth } = bed.world);
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
});
