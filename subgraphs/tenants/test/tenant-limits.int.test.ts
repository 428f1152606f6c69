/**
 * The tenant plan with the real tenants service, Postgres and Redis: `Tenant.limits` (the defaults
 * scaled to a minute, or the overrides), `setTenantLimits` (platform administrators only; omitted
 * fields kept, null resets, every refusal writes nothing), the publish on `tenantLimitsChanged` after
 * the commit, and the gateway's `GET /internal/tenants/:id/limits`.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channels } from '../../../contracts/redis-names.js';
import { TenantLimitsService } from '../src/tenant-limits.js';
import { TenantRepository } from '../src/tenant.repository.js';
import { provisionActive, startHarness, type Harness } from './support/harness.js';

// Windows that are not a minute, so the scaling (and its rounding) shows: 3000 per 45 s is 4000 per
// minute, 100 per 45 s is 133.3 -> 133, a cost of 250000 per 120 s is 125000 per minute.
const DEFAULTS = { requestsPerMinute: 4000, requestsPerMinutePerUser: 133, costPerMinute: 125_000 };
const MAX_QUERY_COST = 50_000;
/** The least costPerMinute whose 120-second budget still covers MAX_QUERY_COST. */
const MIN_COST_PER_MINUTE = 25_000;

const LIMITS = `query($id: ID!) {
  tenant(id: $id) { id limits { requestsPerMinute requestsPerMinutePerUser costPerMinute overridden } }
}`;
const SET = `mutation($tenantId: ID!, $input: TenantLimitsInput!) {
  setTenantLimits(tenantId: $tenantId, input: $input) {
    id limits { requestsPerMinute requestsPerMinutePerUser costPerMinute overridden }
  }
}`;

interface Limits {
  requestsPerMinute: number;
  requestsPerMinutePerUser: number;
  costPerMinute: number;
  overridden: string[];
}

let h: Harness;
let subscriber: Redis;
/** Messages received on the tenantLimitsChanged channel, in order. */
const published: string[] = [];
const owner = randomUUID();
let tenantId: string;
let ownerToken: string;
let adminToken: string;

const code = (r: { errors?: { extensions?: { code?: string } }[] }): string | undefined =>
  r.errors?.[0]?.extensions?.code;

beforeAll(async () => {
  h = await startHarness('tenants_limits', {
    RATE_LIMIT_PER_TENANT: '3000',
    RATE_LIMIT_PER_USER: '100',
    RATE_LIMIT_WINDOW_SECONDS: '45',
    COST_BUDGET_PER_TENANT: '250000',
    COST_BUDGET_WINDOW_SECONDS: '120',
    MAX_QUERY_COST: String(MAX_QUERY_COST),
  });
  subscriber = new Redis(h.config.REDIS_URL, { lazyConnect: true });
  await subscriber.connect();
  await subscriber.subscribe(channels.tenantLimitsChanged(h.config.REDIS_PREFIX));
  subscriber.on('message', (_channel: string, message: string) => published.push(message));
  tenantId = await provisionActive(h, owner, 'Limits Fund');
  ownerToken = await h.token({ userId: owner, tenantId, role: 'OWNER' });
  adminToken = await h.token({ userId: randomUUID(), platformAdmin: true });
});

afterAll(async () => {
  await subscriber?.quit().catch(() => subscriber.disconnect());
  await h?.stop();
});

/** The tenant's stored overrides, read as superuser. */
async function row(id = tenantId) {
  const r = await h.admin.query<{
    requests_per_minute: number | null;
    requests_per_minute_per_user: number | null;
    cost_per_minute: number | null;
  }>(
    'SELECT requests_per_minute, requests_per_minute_per_user, cost_per_minute FROM tenancy.tenants WHERE id = $1',
    [id],
  );
  return r.rows[0];
}

function setLimits(input: Record<string, unknown>, token = adminToken, id = tenantId) {
  return h.gql<{ setTenantLimits: { id: string; limits: Limits } }>(SET, { tenantId: id, input }, token);
}

/** Waits until `n` messages arrived on the channel and returns them. */
async function publishedAtLeast(n: number): Promise<string[]> {
  const deadline = Date.now() + 5000;
  while (published.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return [...published];
}

async function internalLimits(id: string, token?: string) {
  const res = await fetch(`${h.url}/internal/tenants/${encodeURIComponent(id)}/limits`, {
    headers: token === undefined ? {} : { 'x-service-token': token },
  });
  return { status: res.status, cacheControl: res.headers.get('cache-control'), body: await res.json() };
}

describe('Tenant.limits', () => {
  it('shows the platform defaults, scaled to a minute, while nothing is set', async () => {
    expect(await row()).toEqual({
      requests_per_minute: null,
      requests_per_minute_per_user: null,
      cost_per_minute: null,
    });
    for (const token of [ownerToken, adminToken]) {
      const r = await h.gql<{ tenant: { limits: Limits } }>(LIMITS, { id: tenantId }, token);
      expect(r.errors).toBeUndefined();
      expect(r.data!.tenant.limits).toEqual({ ...DEFAULTS, overridden: [] });
    }
  });

  it('is not shown to a caller who may not read the tenant', async () => {
    const stranger = await h.token({ userId: randomUUID() });
    const r = await h.gql<{ tenant: unknown }>(LIMITS, { id: tenantId }, stranger);
    expect(code(r)).toBe('NOT_FOUND');
  });
});

describe('setTenantLimits', () => {
  it('lets a platform admin set two fields; the others follow the defaults', async () => {
    const before = published.length;
    const r = await setLimits({ requestsPerMinute: 9000, costPerMinute: 200_000 });
    expect(r.errors).toBeUndefined();
    const expected = {
      requestsPerMinute: 9000,
      requestsPerMinutePerUser: DEFAULTS.requestsPerMinutePerUser,
      costPerMinute: 200_000,
      overridden: ['requestsPerMinute', 'costPerMinute'],
    };
    expect(r.data!.setTenantLimits).toEqual({ id: tenantId, limits: expected });
    expect(await row()).toEqual({
      requests_per_minute: 9000,
      requests_per_minute_per_user: null,
      cost_per_minute: 200_000,
    });
    // Read back by a member of the tenant.
    const read = await h.gql<{ tenant: { limits: Limits } }>(LIMITS, { id: tenantId }, ownerToken);
    expect(read.data!.tenant.limits).toEqual(expected);
    // Published after the commit: the tenant id, once.
    expect((await publishedAtLeast(before + 1)).slice(before)).toEqual([tenantId]);
  });

  it('leaves an omitted field unchanged and resets an explicit null to the default', async () => {
    const r = await setLimits({ requestsPerMinutePerUser: 500, requestsPerMinute: null });
    expect(r.errors).toBeUndefined();
    expect(r.data!.setTenantLimits.limits).toEqual({
      requestsPerMinute: DEFAULTS.requestsPerMinute,
      requestsPerMinutePerUser: 500,
      costPerMinute: 200_000,
      overridden: ['requestsPerMinutePerUser', 'costPerMinute'],
    });
    expect(await row()).toEqual({
      requests_per_minute: null,
      requests_per_minute_per_user: 500,
      cost_per_minute: 200_000,
    });
  });

  it('refuses the tenant’s own OWNER (FORBIDDEN) and changes nothing', async () => {
    const before = await row();
    const published0 = published.length;
    const r = await setLimits({ requestsPerMinute: 1_000_000 }, ownerToken);
    expect(code(r)).toBe('FORBIDDEN');
    expect(r.data?.setTenantLimits ?? null).toBeNull();
    expect(await row()).toEqual(before);
    // Nothing published (a later admin change proves the subscriber is still listening).
    const ok = await setLimits({ requestsPerMinute: null });
    expect(ok.errors).toBeUndefined();
    expect((await publishedAtLeast(published0 + 1)).slice(published0)).toEqual([tenantId]);
  });

  it('requires authentication', async () => {
    const r = await h.gql(SET, { tenantId, input: { requestsPerMinute: 10 } });
    expect(code(r)).toBe('UNAUTHENTICATED');
  });

  it.each([
    ['requestsPerMinute', 0],
    ['requestsPerMinute', -5],
    ['requestsPerMinutePerUser', 100_000_001],
    ['costPerMinute', 2_000_000_000],
  ])('refuses %s = %d (BAD_USER_INPUT naming the field and range); nothing changes', async (field, value) => {
    const before = await row();
    // A valid field beside the invalid one is not written either.
    const r = await setLimits({ costPerMinute: 300_000, [field]: value });
    expect(code(r)).toBe('BAD_USER_INPUT');
    expect(r.errors![0]!.message).toContain(field);
    expect(r.errors![0]!.message).toContain('1 to 100000000');
    expect(await row()).toEqual(before);
  });

  it('refuses a cost budget below MAX_QUERY_COST per cost window (BAD_USER_INPUT); nothing changes', async () => {
    const before = await row();
    const r = await setLimits({ requestsPerMinute: 7000, costPerMinute: MIN_COST_PER_MINUTE - 1 });
    expect(code(r)).toBe('BAD_USER_INPUT');
    expect(r.errors![0]!.message).toContain('costPerMinute');
    expect(r.errors![0]!.message).toContain('MAX_QUERY_COST');
    expect(await row()).toEqual(before);
    // The least budget that covers it is accepted.
    const ok = await setLimits({ costPerMinute: MIN_COST_PER_MINUTE });
    expect(ok.errors).toBeUndefined();
    expect(ok.data!.setTenantLimits.limits.costPerMinute).toBe(MIN_COST_PER_MINUTE);
  });

  it('answers NOT_FOUND for an unknown tenant or an id that is not a UUID', async () => {
    for (const id of [randomUUID(), 'not-a-uuid']) {
      const r = await setLimits({ requestsPerMinute: 100 }, adminToken, id);
      expect(code(r)).toBe('NOT_FOUND');
    }
  });

  it('does not fail when the publish fails (the change is committed, the failure logged at warn)', async () => {
    // A real connection, closed on purpose: every publish on it is refused.
    const redis = new Redis(h.config.REDIS_URL, { lazyConnect: true });
    await redis.connect();
    redis.disconnect();
    const lines: unknown[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const limits = new TenantLimitsService(h.config, new TenantRepository(h.app), redis, logger);
    await expect(redis.publish('x', 'y')).rejects.toThrow();
    const admin = {
      userId: randomUUID(),
      tenantId: randomUUID(),
      sessionId: randomUUID(),
      role: 'VIEWER' as const,
      platformAdmin: true,
      email: 'admin@example.test',
      expiresAt: Math.floor(Date.now() / 1000) + 600,
    };
    const tenant = await limits.set(admin, tenantId, { requestsPerMinute: 4321 });
    expect(tenant.requestsPerMinute).toBe(4321);
    expect((await row())!.requests_per_minute).toBe(4321);
    expect(lines).toEqual([
      expect.objectContaining({ level: 40, msg: 'could not publish the tenant limits change', tenantId }),
    ]);
  });
});

describe('GET /internal/tenants/:id/limits', () => {
  it('requires the service token: 401 without, 403 with a wrong one', async () => {
    const without = await internalLimits(tenantId);
    expect(without.status).toBe(401);
    expect(without.body).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
    const wrong = await internalLimits(tenantId, 'x'.repeat(h.config.SERVICE_TOKEN.length));
    expect(wrong.status).toBe(403);
    expect(wrong.body).toMatchObject({ error: { code: 'FORBIDDEN' } });
  });

  it('answers 404 {} for an unknown tenant or an id that is not a UUID', async () => {
    for (const id of [randomUUID(), 'not-a-uuid']) {
      const r = await internalLimits(id, h.config.SERVICE_TOKEN);
      expect(r.status).toBe(404);
      expect(r.body).toEqual({});
    }
  });

  it('answers the raw overrides (null: the default), not cached', async () => {
    const set = await setLimits({
      requestsPerMinute: 8000,
      requestsPerMinutePerUser: null,
      costPerMinute: 90_000,
    });
    expect(set.errors).toBeUndefined();
    const r = await internalLimits(tenantId.toUpperCase(), h.config.SERVICE_TOKEN);
    expect(r.status).toBe(200);
    expect(r.cacheControl).toBe('no-store');
    expect(r.body).toEqual({
      requestsPerMinute: 8000,
      requestsPerMinutePerUser: null,
      costPerMinute: 90_000,
    });
  });
});
