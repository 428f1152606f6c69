/**
 * The spine end to end, through the gateway as a web client uses it: registration to an ACTIVE tenant,
 * federated fields across auth, sessions and tenants, token rotation and revocation, tenant isolation.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from './support/env.js';
import { eventually, gql, startPlatform, type RunningPlatform } from './support/platform.js';

interface Payload {
  accessToken: string;
  refreshToken: string;
  expiresAt: string;
  user: { id: string; email: string };
  session: { id: string };
  tenant: { id: string; status: string };
}

const PAYLOAD = 'accessToken refreshToken expiresAt user { id email } session { id } tenant { id status }';
const REGISTER = `mutation($input: RegisterInput!) { register(input: $input) { ${PAYLOAD} } }`;
const LOGIN = `mutation($input: LoginInput!) { login(input: $input) { ${PAYLOAD} } }`;
const REFRESH = `mutation($t: String!) { refreshToken(refreshToken: $t) { ${PAYLOAD} } }`;
const ME = '{ me { id email memberships { role tenant { id organizationName status schemaName } } } }';

let env: TestEnv;
let platform: RunningPlatform;
let url: string;
const password = 'correct horse battery staple';

async function register(email: string, organizationName: string): Promise<Payload> {
  const r = await gql<{ register: Payload }>(url, REGISTER, { input: { email, password, organizationName } });
  expect(r.errors).toBeUndefined();
  return r.data!.register;
}

async function waitActive(tenantId: string, token: string): Promise<void> {
  await eventually(async () => {
    const r = await gql<{ tenant: { status: string } | null }>(
      url,
      'query($id: ID!) { tenant(id: $id) { status } }',
      { id: tenantId },
      token,
    );
    return r.data?.tenant?.status === 'ACTIVE' ? true : undefined;
  }, `tenant ${tenantId} ACTIVE`);
}

/** Resolves once `token` is refused by the gateway; fails after 1 s (the revocation promise). */
async function refusedWithinOneSecond(token: string): Promise<void> {
  await eventually(
    async () => {
      const r = await gql(url, '{ me { id } }', {}, token);
      return r.errors?.[0]?.extensions?.code === 'UNAUTHENTICATED' ? true : undefined;
    },
    'revoked token refused',
    1000,
    25,
  );
}

beforeAll(async () => {
  env = await createTestEnv('spine_e2e');
  platform = await startPlatform(env);
  url = platform.gatewayUrl;
});

afterAll(async () => {
  await platform?.stop();
  await env?.cleanup();
});

describe('registration to an active tenant', () => {
  let alice: Payload;

  beforeAll(async () => {
    alice = await register('  Alice@Example.COM ', 'Alice Capital');
  });

  it('returns tokens, the normalized user, a session and a provisioning tenant', () => {
    expect(alice.accessToken.split('.')).toHaveLength(3);
    expect(alice.refreshToken.length).toBeGreaterThan(20);
    expect(alice.user.email).toBe('alice@example.com');
    expect(new Date(alice.expiresAt).getTime()).toBeGreaterThan(Date.now());
    expect(['PROVISIONING', 'ACTIVE']).toContain(alice.tenant.status);
  });

  it('provisions the tenant schema through a job that reaches ACTIVE', async () => {
    await waitActive(alice.tenant.id, alice.accessToken);
    const job = await gql<{ job: { state: string; progress: number; kind: string } }>(
      url,
      'query($id: ID!) { job(id: $id) { kind state progress error } }',
      { id: `provision-${alice.tenant.id}` },
      alice.accessToken,
    );
    expect(job.errors).toBeUndefined();
    expect(job.data!.job).toMatchObject({ state: 'completed', progress: 100 });

    const me = await gql<{
      me: { email: string; memberships: { role: string; tenant: { schemaName: string; status: string } }[] };
    }>(url, ME, {}, alice.accessToken);
    expect(me.errors).toBeUndefined();
    expect(me.data!.me.memberships).toHaveLength(1);
    const [m] = me.data!.me.memberships;
    expect(m).toMatchObject({ role: 'OWNER', tenant: { status: 'ACTIVE' } });

    // The schema, its role and its migration record exist in the database.
    const db = new pg.Client({ connectionString: env.config.DATABASE_OWNER_URL });
    await db.connect();
    try {
      const schema = m!.tenant.schemaName;
      const role = await db.query('SELECT rolcanlogin FROM pg_roles WHERE rolname = $1', [schema]);
      expect(role.rows).toEqual([{ rolcanlogin: false }]);
      const tables = await db.query(
        'SELECT table_name FROM information_schema.tables WHERE table_schema = $1',
        [schema],
      );
      expect(tables.rows.map((r: { table_name: string }) => r.table_name)).toContain('accounts');
      const record = await db.query(`SELECT count(*)::int AS n FROM "${schema}"."__migrations_trading"`);
      expect(record.rows[0].n).toBeGreaterThan(0);
    } finally {
      await db.end();
    }
  });

  it('lists the caller session, marked current', async () => {
    const r = await gql<{ mySessions: { id: string; current: boolean }[] }>(
      url,
      '{ mySessions { id current } }',
      {},
      alice.accessToken,
    );
    expect(r.errors).toBeUndefined();
    expect(r.data!.mySessions).toContainEqual({ id: alice.session.id, current: true });
  });
});

describe('tokens and sessions through the gateway', () => {
  it('answers a wrong password and an unknown email identically', async () => {
    await register('bob@example.com', 'Bob Ltd');
    const wrong = await gql(url, LOGIN, {
      input: { email: 'bob@example.com', password: 'not the password!' },
    });
    const unknown = await gql(url, LOGIN, {
      input: { email: 'nobody@example.com', password: 'not the password!' },
    });
    expect(wrong.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(unknown.errors?.[0]).toEqual(wrong.errors?.[0]);
  });

  it('rejects a tampered token with UNAUTHENTICATED', async () => {
    const carol = await register('carol@example.com', 'Carol Funds');
    const [h, p, s] = carol.accessToken.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, adm: true })).toString('base64url')}.${s}`;
    const r = await gql(url, '{ tenants { id } }', {}, forged);
    expect(r.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(r.data?.tenants).toBeUndefined();
  });

  it('rotates refresh tokens and revokes the session when an old one is reused', async () => {
    const dave = await register('dave@example.com', 'Dave Partners');
    const first = await gql<{ refreshToken: Payload }>(url, REFRESH, { t: dave.refreshToken });
    expect(first.errors).toBeUndefined();
    const rotated = first.data!.refreshToken;
    expect(rotated.refreshToken).not.toBe(dave.refreshToken);
    expect(rotated.session.id).toBe(dave.session.id);

    const reuse = await gql(url, REFRESH, { t: dave.refreshToken });
    expect(reuse.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    await refusedWithinOneSecond(rotated.accessToken);
    const again = await gql(url, REFRESH, { t: rotated.refreshToken });
    expect(again.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it("records the client's user-agent on the session it opens", async () => {
    await register('ivy@example.com', 'Ivy Capital');
    const login = await gql<{ login: Payload }>(
      url,
      LOGIN,
      { input: { email: 'ivy@example.com', password } },
      undefined,
      { 'user-agent': 'spine-e2e/1.0' },
    );
    expect(login.errors).toBeUndefined();
    const r = await gql<{ mySessions: { id: string; userAgent: string | null }[] }>(
      url,
      '{ mySessions { id userAgent } }',
      {},
      login.data!.login.accessToken,
    );
    expect(r.data?.mySessions).toContainEqual({
      id: login.data!.login.session.id,
      userAgent: 'spine-e2e/1.0',
    });
  });

  it('stops a revoked session within one second', async () => {
    const erin = await register('erin@example.com', 'Erin AG');
    const second = await gql<{ login: Payload }>(url, LOGIN, {
      input: { email: 'erin@example.com', password },
    });
    expect(second.errors).toBeUndefined();
    const other = second.data!.login;
    const ok = await gql(url, '{ me { id } }', {}, other.accessToken);
    expect(ok.errors).toBeUndefined();

    const r = await gql<{ revokeSession: boolean }>(
      url,
      'mutation($id: ID!) { revokeSession(id: $id) }',
      { id: other.session.id },
      erin.accessToken,
    );
    expect(r.data?.revokeSession).toBe(true);
    await refusedWithinOneSecond(other.accessToken);
    const still = await gql(url, '{ me { id } }', {}, erin.accessToken);
    expect(still.errors).toBeUndefined();
  });

  it('logs out', async () => {
    const fay = await register('fay@example.com', 'Fay Inc');
    const r = await gql<{ logout: boolean }>(url, 'mutation { logout }', {}, fay.accessToken);
    expect(r.data?.logout).toBe(true);
    await refusedWithinOneSecond(fay.accessToken);
  });
});

describe('tenants', () => {
  let gus: Payload;
  let hal: Payload;

  beforeAll(async () => {
    gus = await register('gus@example.com', 'Gus Trading');
    hal = await register('hal@example.com', 'Hal Trading');
    await waitActive(gus.tenant.id, gus.accessToken);
    await waitActive(hal.tenant.id, hal.accessToken);
  });

  it('hides another tenant and its jobs', async () => {
    const t = await gql<{ tenant: unknown }>(
      url,
      'query($id: ID!) { tenant(id: $id) { id organizationName } }',
      { id: hal.tenant.id },
      gus.accessToken,
    );
    expect(t.data?.tenant ?? null).toBeNull();
    if (t.errors) expect(['NOT_FOUND', 'FORBIDDEN']).toContain(t.errors[0]?.extensions?.code);
    const j = await gql(
      url,
      'query($id: ID!) { job(id: $id) { state } }',
      { id: `provision-${hal.tenant.id}` },
      gus.accessToken,
    );
    expect(j.data?.job ?? null).toBeNull();
    if (j.errors) expect(['NOT_FOUND', 'FORBIDDEN']).toContain(j.errors[0]?.extensions?.code);
    const list = await gql<{ tenants: { id: string }[] }>(url, '{ tenants { id } }', {}, gus.accessToken);
    expect(list.data!.tenants.map((x) => x.id)).toEqual([gus.tenant.id]);
  });

  it('refuses switching to a tenant without membership', async () => {
    const r = await gql(
      url,
      `mutation($id: ID!) { switchTenant(tenantId: $id) { ${PAYLOAD} } }`,
      { id: hal.tenant.id },
      gus.accessToken,
    );
    expect(r.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('provisions a second organization and switches to it', async () => {
    const p = await gql<{ provisionTenant: { id: string; kind: string } }>(
      url,
      'mutation($input: ProvisionTenantInput!) { provisionTenant(input: $input) { id kind state } }',
      { input: { organizationName: 'Gus Research', template: 'trading' } },
      gus.accessToken,
    );
    expect(p.errors).toBeUndefined();
    const tenantId = p.data!.provisionTenant.id.replace(/^provision-/, '');
    await waitActive(tenantId, gus.accessToken);
    const s = await gql<{ switchTenant: Payload }>(
      url,
      `mutation($id: ID!) { switchTenant(tenantId: $id) { ${PAYLOAD} } }`,
      { id: tenantId },
      gus.accessToken,
    );
    expect(s.errors).toBeUndefined();
    expect(s.data!.switchTenant.tenant.id).toBe(tenantId);
  });

  it('refuses bad provisioning input', async () => {
    const r = await gql(
      url,
      'mutation($input: ProvisionTenantInput!) { provisionTenant(input: $input) { id } }',
      { input: { organizationName: 'X', template: 'no-such-template' } },
      gus.accessToken,
    );
    expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const anon = await gql(
      url,
      'mutation($input: ProvisionTenantInput!) { provisionTenant(input: $input) { id } }',
      {
        input: { organizationName: 'X' },
      },
    );
    expect(anon.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('serves the seed REST provisioning call on the tenants port', async () => {
    const res = await fetch(`http://127.0.0.1:${env.config.TENANTS_PORT}/api/v1/tenants/provision`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gus.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ organization_name: 'Gus REST Org', template: 'trading' }),
    });
    expect(res.status).toBe(202);
    const noAuth = await fetch(`http://127.0.0.1:${env.config.TENANTS_PORT}/api/v1/tenants/provision`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ organization_name: 'Nope' }),
    });
    expect(noAuth.status).toBe(401);
  });
});

describe('operations endpoints', () => {
  it('every service answers /health, /ready and /metrics', async () => {
    const c = env.config;
    for (const port of [c.GATEWAY_PORT, c.AUTH_PORT, c.SESSIONS_PORT, c.TENANTS_PORT]) {
      const base = `http://127.0.0.1:${port}`;
      expect((await fetch(`${base}/health`)).status).toBe(200);
      expect((await fetch(`${base}/ready`)).status).toBe(200);
      const metrics = await fetch(`${base}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('http_request_duration_seconds');
    }
  });
});
