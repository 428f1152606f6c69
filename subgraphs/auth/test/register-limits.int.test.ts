/**
 * The per-IP registration throttle with the real auth, sessions and tenants services and the tenants
 * worker: 25 registrations in a row from one address, of which only the allowance goes through; the
 * refused ones leave no user, tenant, provisioning job, role or schema behind.
 */
import { Queue } from 'bullmq';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tenantSchemaName } from '../../../lib/db.js';
import { createTestEnv, type TestEnv } from '../../../test/support/env.js';
import { eventually } from '../../../test/support/wait.js';
import {
  adminQuery,
  call,
  codeOf,
  FAST_HASHING,
  metric,
  REGISTER,
  startIdentity,
  type Identity,
  type Payload,
} from './support.js';
import { QUEUES, createTenantsWorker, type TenantsWorker } from '../../../test/support/services.js';

const ALLOWED = 5;
let env: TestEnv;
let identity: Identity;
let worker: TenantsWorker;
let queue: Queue;

beforeAll(async () => {
  env = await createTestEnv('auth_register_limits', {
    ...FAST_HASHING,
    REGISTER_THROTTLE_PER_IP: String(ALLOWED),
    REGISTER_THROTTLE_WINDOW_SECONDS: '3600',
  });
  identity = await startIdentity(env.config, { keyReloadMs: 0 });
  worker = createTenantsWorker(env.config);
  await worker.start();
  queue = new Queue(QUEUES.provisioning, {
    connection: { url: env.config.REDIS_URL },
    prefix: env.config.BULLMQ_PREFIX,
  });
});

afterAll(async () => {
  await queue?.close();
  await worker?.stop();
  await identity?.stop();
  await env?.cleanup();
});

it('refuses registrations from one address beyond the limit, creating nothing for them', async () => {
  const results = [];
  for (let i = 0; i < 25; i++) {
    results.push(
      await call<{ register: Payload }>(identity.authUrl, REGISTER, {
        input: {
          email: `burst.${i}.${env.namespace}@example.com`,
          password: 'correct horse battery staple',
          organizationName: `Burst ${i}`,
        },
      }),
    );
  }
  const accepted = results.filter((r) => r.data?.register);
  const refused = results.filter((r) => codeOf(r) === 'RATE_LIMITED');
  expect(accepted).toHaveLength(ALLOWED);
  expect(refused).toHaveLength(25 - ALLOWED);
  expect(results.slice(0, ALLOWED)).toEqual(accepted); // the first ones, in order
  const error = refused[0]!.errors![0]!;
  expect(error.message).toBe('Too many registrations from your address: the limit is 5 per hour');
  expect(error.extensions).toMatchObject({ code: 'RATE_LIMITED', limit: ALLOWED, windowSeconds: 3600 });
  expect(error.extensions?.['retryAfter']).toBeGreaterThan(0);
  expect(error.extensions?.['retryAfter']).toBeLessThanOrEqual(3600);
  expect(await metric(identity.authUrl, 'auth_limit_refusals_total', 'limit="register_ip"')).toBe(
    25 - ALLOWED,
  );

  const tenantIds = accepted.map((r) => r.data!.register.tenant.id).sort();
  // The accepted ones are provisioned completely (role and schema) ...
  await eventually(async () => {
    const rows = await adminQuery<{ n: string }>(
      env.config,
      "SELECT count(*) AS n FROM tenancy.tenants WHERE status = 'ACTIVE'",
    );
    return rows[0]?.n === String(ALLOWED) ? true : undefined;
  }, 'the accepted tenants to be provisioned');
  // ... and nothing exists for the refused ones.
  const users = await adminQuery<{ email: string }>(env.config, 'SELECT email FROM auth.users');
  expect(users).toHaveLength(ALLOWED);
  const tenants = await adminQuery<{ id: string }>(env.config, 'SELECT id FROM tenancy.tenants ORDER BY id');
  expect(tenants.map((t) => t.id)).toEqual(tenantIds);
  const memberships = await adminQuery(env.config, 'SELECT 1 FROM tenancy.memberships');
  expect(memberships).toHaveLength(ALLOWED);
  const schemas = await adminQuery<{ nspname: string }>(
    env.config,
    "SELECT nspname FROM pg_namespace WHERE nspname LIKE 't\\_%' ORDER BY 1",
  );
  expect(schemas.map((s) => s.nspname)).toEqual(tenantIds.map(tenantSchemaName).sort());
  // Tenant roles are named after the schema and made only by a provisioning job: one job per tenant.
  const roles = await adminQuery<{ rolname: string }>(
    env.config,
    'SELECT rolname FROM pg_roles WHERE rolname = ANY($1) ORDER BY 1',
    [tenantIds.map(tenantSchemaName)],
  );
  expect(roles).toHaveLength(ALLOWED);
  const jobs = await queue.getJobCounts('completed', 'active', 'waiting', 'delayed', 'failed');
  expect(Object.values(jobs).reduce((a, b) => a + b, 0)).toBe(ALLOWED);
});
