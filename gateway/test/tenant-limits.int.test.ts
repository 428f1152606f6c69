/**
 * The gateway's cache of each tenant's limits (gateway/src/tenant-limits.ts) against a real HTTP
 * endpoint answering as the tenants service does: scaling to the windows, one look-up per tenant,
 * refreshes that keep serving the known answer (also when they fail), the defaults while the tenants
 * service cannot answer a first look-up, and a change that lands while a look-up is under way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/logger.js';
import { TenantLimits, type LimitsConfig } from '../src/tenant-limits.js';
import { pollUntil, startTenantLimitsFixture, type TenantLimitsFixture } from './support/harness.js';

const SERVICE_TOKEN = 'tenant-limits-test-token';
let fixture: TenantLimitsFixture;

function config(): LimitsConfig {
  return {
    tenantsUrl: fixture.url,
    SERVICE_TOKEN,
    RATE_LIMIT_WINDOW_SECONDS: 30,
    RATE_LIMIT_PER_USER: 100,
    RATE_LIMIT_PER_TENANT: 500,
    COST_BUDGET_PER_TENANT: 50_000,
    COST_BUDGET_WINDOW_SECONDS: 120,
  };
}

const logger = createLogger({ LOG_LEVEL: 'silent' }, 'tenant-limits-test');

beforeAll(async () => {
  fixture = await startTenantLimitsFixture({ SERVICE_TOKEN });
});

afterAll(async () => {
  await fixture?.stop();
});

describe('tenant limits cache', () => {
  it('scales per-minute figures to the windows and keeps the defaults where none is set', async () => {
    fixture.set('t-scaled', { requestsPerMinute: 1000, costPerMinute: 90_000 });
    const limits = new TenantLimits(config(), logger);
    // 1,000 a minute over a 30 s window; 90,000 a minute over a 120 s budget window.
    expect(await limits.of('t-scaled')).toEqual({ tenant: 500, user: 100, cost: 180_000 });
    // Unknown to the tenants service (404): the defaults.
    expect(await limits.of('t-unknown')).toEqual(limits.defaults);
  });

  it('asks once per tenant, concurrent requests included, then answers from memory', async () => {
    fixture.set('t-once', { requestsPerMinutePerUser: 60 });
    const limits = new TenantLimits(config(), logger);
    const answers = await Promise.all(Array.from({ length: 20 }, async () => limits.of('t-once')));
    expect(answers.every((a) => a.user === 30)).toBe(true);
    const known = limits.of('t-once');
    expect(known).not.toBeInstanceOf(Promise);
    expect(fixture.calls.get('t-once')).toBe(1);
  });

  it('refreshes a stale answer in the background and keeps it when the refresh fails', async () => {
    fixture.set('t-stale', { requestsPerMinute: 120 });
    const limits = new TenantLimits(config(), logger, { ttlMs: 1, retryMs: 1 });
    expect(await limits.of('t-stale')).toMatchObject({ tenant: 60 });
    await new Promise((r) => setTimeout(r, 5));

    // The tenants service is down: the stale answer keeps serving, not the defaults.
    fixture.fail(true);
    try {
      const before = fixture.calls.get('t-stale') ?? 0;
      expect(limits.of('t-stale')).toMatchObject({ tenant: 60 });
      expect(await pollUntil(() => Promise.resolve((fixture.calls.get('t-stale') ?? 0) > before), 2000)).toBe(
        true,
      );
      await new Promise((r) => setTimeout(r, 20));
      expect(limits.of('t-stale')).toMatchObject({ tenant: 60 });
    } finally {
      fixture.fail(false);
    }

    // Back up with a new figure: a refresh picks it up while the old one serves meanwhile.
    fixture.set('t-stale', { requestsPerMinute: 240 });
    expect(
      await pollUntil(async () => {
        const now = await limits.of('t-stale');
        return now.tenant === 120;
      }, 2000),
    ).toBe(true);
  });

  it('uses the defaults while a first look-up fails, and asks again after retryMs', async () => {
    fixture.set('t-down', { requestsPerMinute: 6000 });
    fixture.fail(true);
    const limits = new TenantLimits(config(), logger, { retryMs: 50 });
    try {
      expect(await limits.of('t-down')).toEqual(limits.defaults);
    } finally {
      fixture.fail(false);
    }
    expect(
      await pollUntil(async () => {
        const now = await limits.of('t-down');
        return now.tenant === 3000;
      }, 2000),
    ).toBe(true);
  });

  it('does not keep an answer read before a change message', async () => {
    fixture.set('t-race', { requestsPerMinute: 100 });
    const limits = new TenantLimits(config(), logger);
    const first = limits.of('t-race');
    // The change lands while the first look-up is under way: that answer may be the old one.
    fixture.set('t-race', { requestsPerMinute: 200 });
    limits.forget('t-race');
    await first;
    expect(await limits.of('t-race')).toMatchObject({ tenant: 100 });
    expect(fixture.calls.get('t-race')).toBe(2);
  });
});
