/**
 * Limits on creating tenants, with the real tenants service, worker, Postgres and Redis: the cap on
 * tenants owned per user (held under concurrency by the creating transaction) and the per-IP throttle
 * on provisionTenant and POST /api/v1/tenants/provision. A refused creation writes nothing and queues
 * nothing.
 */
import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tenantSchemaName } from '../../../lib/db.js';
import { AppError } from '../../../lib/errors.js';
import { eventually } from '../../../test/support/wait.js';
import { provisionJobId, QUEUES } from '../src/jobs/queues.js';
import { TenantRepository } from '../src/tenant.repository.js';
import { startHarness, type Harness } from './support/harness.js';

const PROVISION = 'mutation($input: ProvisionTenantInput!) { provisionTenant(input: $input) { id } }';
const PER_IP = 6;
const MAX_OWNED = 2;
let h: Harness;
let queue: Queue;
/** Tenant creations this file asked for through the API (all from loopback), refused ones included. */
let creationsAsked = 0;

beforeAll(async () => {
  h = await startHarness('tenants_creation_limits', {
    TENANT_CREATE_THROTTLE_PER_IP: String(PER_IP),
    TENANT_CREATE_THROTTLE_WINDOW_SECONDS: '3600',
    TENANTS_MAX_OWNED_PER_USER: String(MAX_OWNED),
  });
  queue = h.queue(QUEUES.provisioning);
});

afterAll(async () => {
  await h?.stop();
});

async function provisionGql(userId: string, organizationName: string, tenantId?: string) {
  creationsAsked++;
  return h.gql<{ provisionTenant: { id: string } }>(
    PROVISION,
    { input: { organizationName, ...(tenantId ? { tenantId } : {}) } },
    await h.token({ userId }),
  );
}

async function provisionRest(userId: string, organizationName: string) {
  creationsAsked++;
  const res = await fetch(`${h.url}/api/v1/tenants/provision`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${await h.token({ userId })}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify({ organization_name: organizationName, template: 'trading' }),
  });
  return {
    status: res.status,
    retryAfter: res.headers.get('retry-after'),
    body: (await res.json()) as Record<string, Record<string, unknown>>,
  };
}

async function tenantsNamed(name: string): Promise<string[]> {
  const r = await h.admin.query<{ id: string }>(
    'SELECT id FROM tenancy.tenants WHERE organization_name = $1',
    [name],
  );
  return r.rows.map((row) => row.id);
}

describe('tenants owned per user', () => {
  it('holds under concurrent creations: the count is taken under a per-owner lock', async () => {
    const CONCURRENT = 8;
    const pool = new pg.Pool({ connectionString: h.config.DATABASE_URL, max: CONCURRENT });
    const holder = await h.admin.connect();
    try {
      const repo = new TenantRepository(pool, { maxOwnedPerUser: MAX_OWNED });
      const owner = randomUUID();
      const ids = Array.from({ length: CONCURRENT }, () => randomUUID());
      // Inserts into tenants wait behind this lock, so every creation reaches its insert (or the
      // per-owner lock before it) before any commits: without that lock, all would count 0 owned.
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE tenancy.tenants IN SHARE ROW EXCLUSIVE MODE');
      const settled = Promise.allSettled(
        ids.map((id) =>
          repo.createWithOwner(
            { id, organizationName: 'Race', template: 'trading', schemaName: tenantSchemaName(id) },
            owner,
          ),
        ),
      );
      await eventually(async () => {
        const r = await h.admin.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND usename = $1 AND wait_event_type = 'Lock'`,
          [h.config.DATABASE_APP_ROLE],
        );
        return r.rows[0]?.n === CONCURRENT ? true : undefined;
      }, 'every creation to wait on a lock');
      await holder.query('COMMIT');
      const results = await settled;
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(MAX_OWNED);
      for (const r of results.filter((x) => x.status === 'rejected')) {
        expect(r.reason).toBeInstanceOf(AppError);
        expect(r.reason).toMatchObject({ code: 'QUOTA_EXCEEDED', details: { limit: MAX_OWNED } });
      }
      const rows = await h.admin.query(
        "SELECT tenant_id FROM tenancy.memberships WHERE user_id = $1 AND role = 'OWNER'",
        [owner],
      );
      expect(rows.rows).toHaveLength(MAX_OWNED);
      const tenants = await h.admin.query('SELECT id FROM tenancy.tenants WHERE id = ANY($1)', [ids]);
      expect(tenants.rows).toHaveLength(MAX_OWNED);
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      holder.release();
      await pool.end();
    }
  });

  it('refuses provisionTenant past the cap with QUOTA_EXCEEDED, writing and queueing nothing', async () => {
    const user = randomUUID();
    for (let i = 0; i < MAX_OWNED; i++) {
      expect((await provisionGql(user, `Owned ${user} ${i}`)).errors).toBeUndefined();
    }
    const refusedId = randomUUID();
    const refused = await provisionGql(user, `Owned ${user} over`, refusedId);
    expect(refused.errors?.[0]).toMatchObject({
      message: `You own ${MAX_OWNED} organizations; the limit is ${MAX_OWNED} per user`,
      extensions: { code: 'QUOTA_EXCEEDED', limit: MAX_OWNED, owned: MAX_OWNED },
    });
    expect(refused.errors?.[0]?.extensions?.['retryAfter']).toBeUndefined();
    expect(await tenantsNamed(`Owned ${user} over`)).toEqual([]);
    expect(await queue.getJob(provisionJobId(refusedId))).toBeUndefined();
  });
});

describe('tenant creations per client IP', () => {
  it('refuses creations beyond the limit on REST and GraphQL alike, creating nothing', async () => {
    const remaining = PER_IP - creationsAsked;
    expect(remaining).toBeGreaterThan(0);
    for (let i = 0; i < remaining; i++) {
      const ok = await provisionRest(randomUUID(), `Throttled ${i}`);
      expect(ok.status).toBe(202);
    }
    const name = `Throttled ${randomUUID()}`;
    const refused = await provisionRest(randomUUID(), name);
    expect(refused.status).toBe(429);
    expect(refused.body['error']).toMatchObject({
      code: 'RATE_LIMITED',
      message: `Too many organizations created from your address: the limit is ${PER_IP} per hour`,
      limit: PER_IP,
    });
    expect(refused.body['error']?.['retryAfter']).toBeGreaterThan(0);
    // The same wait in the standard header, for HTTP clients that never read the body.
    expect(refused.retryAfter).toBe(String(refused.body['error']?.['retryAfter']));
    expect(await tenantsNamed(name)).toEqual([]);

    const viaGraphql = await provisionGql(randomUUID(), name);
    expect(viaGraphql.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', limit: PER_IP });
    expect(await tenantsNamed(name)).toEqual([]);

    const metrics = await (await fetch(`${h.url}/metrics`)).text();
    expect(metrics).toMatch(/tenants_limit_refusals_total\{[^}]*limit="create_ip"[^}]*\} 2/);
  });

  it('does not count re-provisioning an existing tenant', async () => {
    const owner = randomUUID();
    const repo = new TenantRepository(h.app);
    const id = randomUUID();
    await repo.createWithOwner(
      { id, organizationName: 'Existing', template: 'trading', schemaName: tenantSchemaName(id) },
      owner,
    );
    const again = await h.gql<{ provisionTenant: { id: string } }>(
      PROVISION,
      { input: { organizationName: 'Existing', tenantId: id } },
      await h.token({ userId: owner }),
    );
    expect(again.errors).toBeUndefined();
    expect(again.data?.provisionTenant.id).toBe(provisionJobId(id));
  });
});
