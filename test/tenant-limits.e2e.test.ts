/**
 * A tenant's own request limits end to end: a platform administrator sets them through the gateway
 * (`setTenantLimits`), the tenants service stores them and publishes the change, and the gateway
 * applies them to the tenant's next requests while every other tenant keeps the defaults.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminUrlOf, createTestEnv, type TestEnv } from './support/env.js';
import { eventually, gql, startPlatform, type RunningPlatform } from './support/platform.js';

interface Registered {
  accessToken: string;
  user: { email: string };
  tenant: { id: string };
}

const REGISTER =
  'mutation($input: RegisterInput!) { register(input: $input) { accessToken user { email } tenant { id } } }';
const SET_LIMITS = `mutation($t: ID!, $i: TenantLimitsInput!) {
  setTenantLimits(tenantId: $t, input: $i) { id limits { requestsPerMinute requestsPerMinutePerUser costPerMinute overridden } }
}`;
const password = 'correct horse battery staple';
/** The default per-tenant limit of this file's platform (per 60 s). */
const TENANT_DEFAULT = 8;

let env: TestEnv;
let platform: RunningPlatform;
let url: string;

async function register(label: string): Promise<Registered> {
  const email = `${label}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;
  const r = await gql<{ register: Registered }>(url, REGISTER, {
    input: { email, password, organizationName: `Org ${label}` },
  });
  expect(r.errors).toBeUndefined();
  return r.data!.register;
}

beforeAll(async () => {
  env = await createTestEnv('tenant_limits_e2e', {
    RATE_LIMIT_WINDOW_SECONDS: '60',
    RATE_LIMIT_PER_TENANT: String(TENANT_DEFAULT),
    RATE_LIMIT_PER_USER: '1000',
    RATE_LIMIT_PER_IP: '100000',
  });
  platform = await startPlatform(env);
  url = platform.gatewayUrl;
});

afterAll(async () => {
  await platform?.stop();
  await env?.cleanup();
});

describe("a tenant's own request limits", () => {
  it('are set by a platform admin only, and the gateway applies them at once', async () => {
    const owner = await register('owner');
    const other = await register('other');
    const me = (token: string) => gql(url, '{ me { id } }', {}, token);

    // The defaults: the owner's tenant is refused after TENANT_DEFAULT requests in the window.
    let admitted = 0;
    for (;;) {
      const r = await me(owner.accessToken);
      if (r.status !== 200) {
        expect(r.status).toBe(429);
        expect(r.errors?.[0]?.extensions).toMatchObject({
          code: 'RATE_LIMITED',
          limit: 'requests_per_tenant',
          max: TENANT_DEFAULT,
        });
        break;
      }
      admitted++;
      expect(admitted).toBeLessThanOrEqual(TENANT_DEFAULT);
    }

    // A tenant's own OWNER may not raise them.
    const own = await gql(
      url,
      SET_LIMITS,
      { t: other.tenant.id, i: { requestsPerMinute: 100 } },
      other.accessToken,
    );
    expect(own.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    // A platform admin (flagged in SQL, as an operator does) raises them.
    const ops = await register('ops');
    const db = new pg.Client({ connectionString: adminUrlOf(env.config) });
    await db.connect();
    try {
      await db.query('UPDATE auth.users SET platform_admin = true WHERE email = $1', [ops.user.email]);
    } finally {
      await db.end();
    }
    const login = await gql<{ login: { accessToken: string } }>(
      url,
      'mutation($input: LoginInput!) { login(input: $input) { accessToken } }',
      { input: { email: ops.user.email, password } },
    );
    const adminToken = login.data!.login.accessToken;
    const set = await gql<{
      setTenantLimits: {
        limits: { requestsPerMinute: number; requestsPerMinutePerUser: number; overridden: string[] };
      };
    }>(url, SET_LIMITS, { t: owner.tenant.id, i: { requestsPerMinute: 100 } }, adminToken);
    expect(set.errors).toBeUndefined();
    expect(set.data!.setTenantLimits.limits).toMatchObject({
      requestsPerMinute: 100,
      requestsPerMinutePerUser: 1000,
      overridden: ['requestsPerMinute'],
    });

    // The change message reaches the gateway: the owner's tenant is admitted again in the same window.
    await eventually(
      async () => ((await me(owner.accessToken)).status === 200 ? true : undefined),
      'the raised limit applied',
      5000,
      50,
    );
    // Every other tenant keeps the defaults.
    let otherAdmitted = 0;
    while ((await me(other.accessToken)).status === 200) otherAdmitted++;
    // `other` spent one request on the refused setTenantLimits above.
    expect(otherAdmitted).toBe(TENANT_DEFAULT - 1);
  });
});
