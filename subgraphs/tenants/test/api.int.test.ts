/**
 * The tenants API called directly (GraphQL and REST, tokens signed by a test key): who sees which
 * tenant and job, who may provision, entity references, internal fields, input errors.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provisionJobId } from '../src/jobs/queues.js';
import { provisionActive, startHarness, waitForStatus, type Harness } from './support/harness.js';

const TENANT =
  'query($id: ID!) { tenant(id: $id) { id organizationName template status schemaName createdAt provisionedAt } }';
const TENANTS = '{ tenants { id } }';
const JOB = 'query($id: ID!) { job(id: $id) { id kind state progress } }';
const PROVISION =
  'mutation($input: ProvisionTenantInput!) { provisionTenant(input: $input) { id kind state progress } }';

let h: Harness;
const alice = randomUUID();
const bob = randomUUID();
const carol = randomUUID();
const admin = randomUUID();
let tenantA: string;
let tenantB: string;
let aliceToken: string;
let bobToken: string;
let carolToken: string;
let adminToken: string;

const code = (r: { errors?: { extensions?: { code?: string } }[] }): string | undefined =>
  r.errors?.[0]?.extensions?.code;

beforeAll(async () => {
  h = await startHarness('tenants_api');
  [tenantA, tenantB] = await Promise.all([
    provisionActive(h, alice, 'Alpha Fund'),
    provisionActive(h, bob, 'Beta Fund'),
  ]);
  // Carol trades in Alpha without managing it.
  await h.admin.query(
    `INSERT INTO tenancy.memberships (tenant_id, user_id, role) VALUES ($1, $2, 'TRADER')`,
    [tenantA, carol],
  );
  aliceToken = await h.token({ userId: alice, tenantId: tenantA });
  bobToken = await h.token({ userId: bob, tenantId: tenantB });
  carolToken = await h.token({ userId: carol, tenantId: tenantA, role: 'TRADER' });
  adminToken = await h.token({ userId: admin, platformAdmin: true });
});

afterAll(async () => {
  await h?.stop();
});

describe('tenant and tenants', () => {
  it('shows a member their tenant', async () => {
    const r = await h.gql<{ tenant: Record<string, unknown> }>(TENANT, { id: tenantA }, aliceToken);
    expect(r.errors).toBeUndefined();
    expect(r.data!.tenant).toMatchObject({
      id: tenantA,
      organizationName: 'Alpha Fund',
      template: 'trading',
      status: 'ACTIVE',
    });
    expect(r.data!.tenant['schemaName']).toMatch(/^t_[0-9a-f]{16}$/);
  });

  it('answers NOT_FOUND for another tenant, exactly as for one that does not exist', async () => {
    const other = await h.gql(TENANT, { id: tenantB }, aliceToken);
    const missing = await h.gql(TENANT, { id: randomUUID() }, aliceToken);
    expect(code(other)).toBe('NOT_FOUND');
    expect(other.data?.tenant ?? null).toBeNull();
    expect(code(missing)).toBe('NOT_FOUND');
    expect(other.errors?.[0]?.message).toBe(missing.errors?.[0]?.message);
  });

  it('refuses a malformed id and anonymous callers', async () => {
    expect(code(await h.gql(TENANT, { id: 'not-a-uuid' }, aliceToken))).toBe('BAD_USER_INPUT');
    expect(code(await h.gql(TENANT, { id: tenantA }))).toBe('UNAUTHENTICATED');
    expect(code(await h.gql(TENANTS))).toBe('UNAUTHENTICATED');
  });

  it('lists a user their tenants and a platform admin every tenant', async () => {
    const mine = await h.gql<{ tenants: { id: string }[] }>(TENANTS, {}, bobToken);
    expect(mine.data!.tenants.map((t) => t.id)).toEqual([tenantB]);
    const all = await h.gql<{ tenants: { id: string }[] }>(TENANTS, {}, adminToken);
    expect(all.data!.tenants.map((t) => t.id)).toEqual(expect.arrayContaining([tenantA, tenantB]));
    const one = await h.gql(TENANT, { id: tenantB }, adminToken);
    expect(one.errors).toBeUndefined();
  });

  it('reports health and backups to members', async () => {
    await h.admin.query(
      `INSERT INTO tenancy.backups (tenant_id, type, status, path, size_bytes, sha256, started_at)
       VALUES ($1, 'MANUAL', 'VERIFIED', '/b/1', 1234, 'abc', now() - interval '1 day'), ($1, 'SCHEDULED', 'VERIFIED', '/b/2', 99, 'def', now())`,
      [tenantA],
    );
    const r = await h.gql<{
      tenant: { health: Record<string, unknown>; backups: { type: string; sizeBytes: number }[] };
    }>(
      `query($id: ID!) { tenant(id: $id) {
         health { status schemaPresent migrationsApplied migrationsExpected schemaSizeBytes reasons checkedAt }
         backups(first: 1) { id type status path sizeBytes sha256 startedAt completedAt error } } }`,
      { id: tenantA },
      carolToken,
    );
    expect(r.errors).toBeUndefined();
    const health = r.data!.tenant.health;
    expect(health).toMatchObject({ status: 'OK', schemaPresent: true, reasons: [] });
    expect(health['migrationsApplied']).toBe(health['migrationsExpected']);
    expect(health['schemaSizeBytes']).toBeGreaterThan(0);
    expect(r.data!.tenant.backups).toEqual([expect.objectContaining({ type: 'SCHEDULED', sizeBytes: 99 })]);
  });

  it('reports a dropped schema as DOWN', async () => {
    const schema = (
      await h.admin.query<{ schema_name: string }>('SELECT schema_name FROM tenancy.tenants WHERE id = $1', [
        tenantB,
      ])
    ).rows[0]!.schema_name;
    await h.admin.query(`ALTER SCHEMA ${schema} RENAME TO ${schema}_away`);
    try {
      const r = await h.gql<{ tenant: { health: { status: string; reasons: string[] } } }>(
        'query($id: ID!) { tenant(id: $id) { health { status reasons } } }',
        { id: tenantB },
        bobToken,
      );
      expect(r.data!.tenant.health.status).toBe('DOWN');
      expect(r.data!.tenant.health.reasons).toContain('schema missing');
    } finally {
      await h.admin.query(`ALTER SCHEMA ${schema}_away RENAME TO ${schema}`);
    }
  });
});

describe('jobs', () => {
  it("shows a tenant's job to its members and platform admins only", async () => {
    const id = provisionJobId(tenantA);
    const own = await h.gql<{ job: { state: string } }>(JOB, { id }, carolToken);
    expect(own.data!.job).toMatchObject({ id, kind: 'provision', state: 'completed', progress: 100 });
    expect((await h.gql(JOB, { id }, adminToken)).errors).toBeUndefined();
    const foreign = await h.gql(JOB, { id }, bobToken);
    expect(code(foreign)).toBe('NOT_FOUND');
    expect(foreign.data?.job ?? null).toBeNull();
    expect(code(await h.gql(JOB, { id: 'whatever' }, aliceToken))).toBe('NOT_FOUND');
    expect(code(await h.gql(JOB, { id: provisionJobId(randomUUID()) }, adminToken))).toBe('NOT_FOUND');
  });
});

describe('provisionTenant', () => {
  it('lets any signed-in user create an organization they own', async () => {
    const dave = randomUUID();
    const token = await h.token({ userId: dave });
    const r = await h.gql<{ provisionTenant: { id: string; kind: string } }>(
      PROVISION,
      { input: { organizationName: '  Dave Co  ' } },
      token,
    );
    expect(r.errors).toBeUndefined();
    expect(r.data!.provisionTenant).toMatchObject({ kind: 'provision' });
    const tenantId = r.data!.provisionTenant.id.replace(/^provision-/, '');
    const m = await h.admin.query(
      'SELECT m.role, t.organization_name FROM tenancy.memberships m JOIN tenancy.tenants t ON t.id = m.tenant_id WHERE m.user_id = $1',
      [dave],
    );
    expect(m.rows).toEqual([{ role: 'OWNER', organization_name: 'Dave Co' }]);
    await waitForStatus(h, tenantId, 'ACTIVE');
  });

  it('creates a tenant with a chosen unused id once, however often the request is sent', async () => {
    const erin = randomUUID();
    const token = await h.token({ userId: erin });
    const tenantId = randomUUID();
    const input = { tenantId, organizationName: 'Erin Partners' };
    const [a, b] = await Promise.all([
      h.gql(PROVISION, { input }, token),
      h.gql(PROVISION, { input }, token),
    ]);
    expect(a.errors).toBeUndefined();
    expect(b.errors).toBeUndefined();
    const rows = await h.admin.query('SELECT id FROM tenancy.tenants WHERE id = $1', [tenantId]);
    expect(rows.rowCount).toBe(1);
    await waitForStatus(h, tenantId, 'ACTIVE');
  });

  it('refuses bad input with BAD_USER_INPUT and creates nothing', async () => {
    const frank = randomUUID();
    const token = await h.token({ userId: frank });
    for (const input of [
      { organizationName: 'X', template: 'no-such-template' },
      { organizationName: 'X', template: '../../etc/passwd' },
      { organizationName: '   ' },
      { organizationName: 'x'.repeat(201) },
      { organizationName: 'X', tenantId: 'not-a-uuid' },
    ]) {
      expect(code(await h.gql(PROVISION, { input }, token)), JSON.stringify(input)).toBe('BAD_USER_INPUT');
    }
    const rows = await h.admin.query('SELECT 1 FROM tenancy.memberships WHERE user_id = $1', [frank]);
    expect(rows.rowCount).toBe(0);
  });

  it("answers NOT_FOUND for another user's tenant and FORBIDDEN for a member who does not manage it", async () => {
    expect(
      code(
        await h.gql(PROVISION, { input: { tenantId: tenantB, organizationName: 'Beta Fund' } }, aliceToken),
      ),
    ).toBe('NOT_FOUND');
    expect(
      code(
        await h.gql(PROVISION, { input: { tenantId: tenantA, organizationName: 'Alpha Fund' } }, carolToken),
      ),
    ).toBe('FORBIDDEN');
    expect(code(await h.gql(PROVISION, { input: { organizationName: 'Anon' } }))).toBe('UNAUTHENTICATED');
  });

  it('returns the existing job of an ACTIVE tenant to its owner and to platform admins', async () => {
    for (const token of [aliceToken, adminToken]) {
      const r = await h.gql<{ provisionTenant: { id: string; state: string } }>(
        PROVISION,
        { input: { tenantId: tenantA, organizationName: 'Alpha Fund' } },
        token,
      );
      expect(r.errors).toBeUndefined();
      expect(r.data!.provisionTenant).toMatchObject({ id: provisionJobId(tenantA), state: 'completed' });
    }
  });
});

describe('entity references and internal fields', () => {
  const ENTITIES = `query($r: [_Any!]!) { _entities(representations: $r) {
    ... on Tenant { id status organizationName }
    ... on User { id memberships { role tenant { id organizationName } } } } }`;

  it("resolves a user's memberships for the user themself and platform admins only", async () => {
    const self = await h.gql<{ _entities: { memberships: unknown[] }[] }>(
      ENTITIES,
      { r: [{ __typename: 'User', id: carol }] },
      carolToken,
    );
    expect(self.errors).toBeUndefined();
    expect(self.data!._entities[0]!.memberships).toEqual([
      { role: 'TRADER', tenant: { id: tenantA, organizationName: 'Alpha Fund' } },
    ]);
    expect(code(await h.gql(ENTITIES, { r: [{ __typename: 'User', id: carol }] }, bobToken))).toBe(
      'FORBIDDEN',
    );
    expect(
      (await h.gql(ENTITIES, { r: [{ __typename: 'User', id: carol }] }, adminToken)).errors,
    ).toBeUndefined();
  });

  it('resolves a Tenant reference in full for members, and only its status for anyone else', async () => {
    const member = await h.gql<{ _entities: unknown[] }>(
      ENTITIES,
      { r: [{ __typename: 'Tenant', id: tenantA }] },
      aliceToken,
    );
    expect(member.data!._entities).toEqual([
      { id: tenantA, status: 'ACTIVE', organizationName: 'Alpha Fund' },
    ]);
    const stranger = await h.gql(
      'query($r: [_Any!]!) { _entities(representations: $r) { ... on Tenant { id status } } }',
      { r: [{ __typename: 'Tenant', id: tenantA }] },
    );
    expect(stranger.errors).toBeUndefined();
    expect(stranger.data).toEqual({ _entities: [{ id: tenantA, status: 'ACTIVE' }] });
    const nosy = await h.gql(ENTITIES, { r: [{ __typename: 'Tenant', id: tenantA }] }, bobToken);
    expect(code(nosy)).toBe('NOT_FOUND');
  });

  it('serves createOwnedTenant and userMemberships to the service token only', async () => {
    const owner = randomUUID();
    const create =
      'mutation($input: CreateOwnedTenantInput!) { createOwnedTenant(input: $input) { tenantId jobId } }';
    const input = { ownerUserId: owner, organizationName: 'Via Auth' };
    expect(code(await h.gql(create, { input }, aliceToken))).toBe('FORBIDDEN');
    const service = { 'x-service-token': h.config.SERVICE_TOKEN };
    const r = await h.gql<{ createOwnedTenant: { tenantId: string; jobId: string } }>(
      create,
      { input },
      undefined,
      service,
    );
    expect(r.errors).toBeUndefined();
    expect(r.data!.createOwnedTenant.jobId).toBe(provisionJobId(r.data!.createOwnedTenant.tenantId));
    const grants = await h.gql<{ userMemberships: unknown[] }>(
      'query($u: ID!) { userMemberships(userId: $u) { tenantId role } }',
      { u: owner },
      undefined,
      service,
    );
    expect(grants.data!.userMemberships).toEqual([
      { tenantId: r.data!.createOwnedTenant.tenantId, role: 'OWNER' },
    ]);
    expect(
      code(
        await h.gql('query($u: ID!) { userMemberships(userId: $u) { tenantId } }', { u: owner }, aliceToken),
      ),
    ).toBe('FORBIDDEN');
    await waitForStatus(h, r.data!.createOwnedTenant.tenantId, 'ACTIVE');
  });
});

describe('REST', () => {
  const post = (body: unknown, token?: string, raw?: string): Promise<Response> =>
    fetch(`${h.url}/api/v1/tenants/provision`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: raw ?? JSON.stringify(body),
    });

  it('provisions with the seed body and answers 202 with the job', async () => {
    const gina = randomUUID();
    const res = await post(
      { organization_name: 'Gina REST', template: 'trading' },
      await h.token({ userId: gina }),
    );
    expect(res.status).toBe(202);
    const body = (await res.json()) as { job: { id: string; kind: string }; tenant_id: string };
    expect(body.job).toMatchObject({ id: provisionJobId(body.tenant_id), kind: 'provision' });
    await waitForStatus(h, body.tenant_id, 'ACTIVE');
    const again = await post(
      { tenant_id: body.tenant_id, organization_name: 'Gina REST', template: 'trading' },
      await h.token({ userId: gina }),
    );
    expect(again.status).toBe(202);
  });

  it('answers 400 BAD_USER_INPUT for a bad body and 401 without a valid token', async () => {
    const token = await h.token({ userId: randomUUID() });
    for (const [body, raw] of [
      [{ template: 'trading' }, undefined],
      [{ organization_name: 5 }, undefined],
      [{ organization_name: 'X', tenant_id: 'nope' }, undefined],
      [{ organization_name: 'X', template: 'nope' }, undefined],
      [null, '{not json'],
    ] as const) {
      const res = await post(body, token, raw);
      expect(res.status, JSON.stringify(body ?? raw)).toBe(400);
      const json = (await res.json()) as { error: { code: string; message: string } };
      expect(json.error.code).toBe('BAD_USER_INPUT');
    }
    expect((await post({ organization_name: 'X' })).status).toBe(401);
    const forged = await post({ organization_name: 'X' }, `${token.slice(0, -4)}AAAA`);
    expect(forged.status).toBe(401);
    expect(((await forged.json()) as { error: { code: string } }).error.code).toBe('UNAUTHENTICATED');
  });

  it("serves a tenant's health to members and 404 to anyone else", async () => {
    const ok = await fetch(`${h.url}/api/v1/monitoring/${tenantA}/health`, {
      headers: { authorization: `Bearer ${aliceToken}` },
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ tenant_id: tenantA, status: 'OK', schema_present: true });
    const other = await fetch(`${h.url}/api/v1/monitoring/${tenantA}/health`, {
      headers: { authorization: `Bearer ${bobToken}` },
    });
    expect(other.status).toBe(404);
    const anon = await fetch(`${h.url}/api/v1/monitoring/${tenantA}/health`);
    expect(anon.status).toBe(401);
  });

  it('answers /health and /ready on the service and the worker', async () => {
    for (const base of [h.url, h.workerUrl]) {
      expect((await fetch(`${base}/health`)).status, base).toBe(200);
      const ready = await fetch(`${base}/ready`);
      expect(await ready.json(), base).toMatchObject({ status: 'ready' });
    }
    const text = await (await fetch(`${h.workerUrl}/metrics`)).text();
    expect(text).toMatch(/tenants_provisioned_total\{result="success",service="tenants-worker"\} [1-9]/);
  });

  it('exports tenants_by_status on /metrics', async () => {
    const text = await (await fetch(`${h.url}/metrics`)).text();
    expect(text).toMatch(/tenants_by_status\{status="ACTIVE",service="tenants"\} [1-9]/);
  });
});
