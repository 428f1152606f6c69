/**
 * Test harness of the tenants subgraph: tokens signed with a local key (served to the verifier as a
 * local JWKS, no auth service needed), the service and worker started in-process, and small helpers.
 */
import { copyFile, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import type pg from 'pg';
import { AccessTokenVerifier, type Role } from '../../../../lib/auth.js';
import { PROJECT_ROOT } from '../../../../lib/config.js';
import type { HttpService } from '../../../../lib/http.js';
import {
  adminUrlOf,
  createTestEnv,
  createTestPool,
  type TestConfig,
  type TestEnv,
} from '../../../../test/support/env.js';
import { subgraphGql, type GraphQLResult } from '../../../../test/support/graphql.js';
import { createTestSigner } from '../../../../test/support/tokens.js';
import { eventually } from '../../../../test/support/wait.js';
import { createTenantsWorker, type TenantsWorker } from '../../src/jobs/worker.js';
import { createTenantsService } from '../../src/service.js';

export interface Caller {
  userId: string;
  tenantId?: string;
  role?: Role;
  platformAdmin?: boolean;
}

export interface Harness {
  env: TestEnv;
  config: TestConfig;
  /** Folder of the test's templates (a copy of schema/templates plus whatever the test writes). */
  templatesDir: string;
  service: HttpService;
  worker: TenantsWorker;
  url: string;
  /** Base URL of the worker's /health, /ready and /metrics. */
  workerUrl: string;
  /** Superuser connection to the test database (catalog checks, bypasses RLS). */
  admin: pg.Pool;
  /** App-role pool, as the services use it. */
  app: pg.Pool;
  token(caller: Caller): Promise<string>;
  gql<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    token?: string,
    headers?: Record<string, string>,
  ): Promise<GraphQLResult<T>>;
  /** A BullMQ queue on the test's Redis and prefix (see QUEUES), closed by {@link Harness.stop}. */
  queue(name: string): Queue;
  stop(): Promise<void>;
}

/**
 * A test namespace with the tenants service and worker running.
 * @param name unique namespace label of the test file
 * @param overrides configuration overrides (TENANT_TEMPLATES_DIR is set by the harness)
 */
export async function startHarness(name: string, overrides: Record<string, string> = {}): Promise<Harness> {
  const templatesDir = await mkdtemp(path.join(os.tmpdir(), `tradesage-templates-${name}-`));
  await copyFile(
    path.join(PROJECT_ROOT, 'schema/templates/trading.json'),
    path.join(templatesDir, 'trading.json'),
  );
  const env = await createTestEnv(name, { TENANT_TEMPLATES_DIR: templatesDir, ...overrides });
  const config = env.config;

  const signer = await createTestSigner(config, 'tenants-test');
  const verifier = new AccessTokenVerifier(config, null, signer.jwks);

  const service = createTenantsService(config, { verifier });
  const worker = createTenantsWorker(config);
  let url: string;
  let workerUrl: string;
  try {
    ({ url } = await service.start());
    ({ url: workerUrl } = await worker.start());
  } catch (err) {
    // afterAll sees no harness when beforeAll failed: release everything here.
    await worker.stop().catch(() => undefined);
    await service.stop().catch(() => undefined);
    await env.cleanup();
    throw err;
  }
  const admin = createTestPool(adminUrlOf(config), 3);
  const app = createTestPool(config.DATABASE_URL, 3);

  const token = (caller: Caller): Promise<string> =>
    signer.sign({ ...caller, email: `${caller.userId.slice(0, 8)}@example.com` });

  const queues: Queue[] = [];
  const queue = (name: string): Queue => {
    const q = new Queue(name, { connection: { url: config.REDIS_URL }, prefix: config.BULLMQ_PREFIX });
    queues.push(q);
    return q;
  };

  return {
    env,
    config,
    templatesDir,
    service,
    worker,
    url,
    workerUrl,
    admin,
    app,
    token,
    gql: (query, variables, bearer, headers) => subgraphGql(url, query, variables, bearer, headers),
    queue,
    async stop() {
      for (const q of queues) await q.close().catch(() => undefined);
      await worker.stop().catch(() => undefined);
      await service.stop().catch(() => undefined);
      await admin.end().catch(() => undefined);
      await app.end().catch(() => undefined);
      await env.cleanup();
    },
  };
}

/** Writes a template whose single migration set lives in `folder` (absolute). */
export async function writeTemplate(
  dir: string,
  name: string,
  folder: string,
  table = '__migrations_trading',
): Promise<void> {
  await writeFile(
    path.join(dir, `${name}.json`),
    JSON.stringify({ name, migrations: [{ owner: 'trading', folder, table }], seeds: ['paper-account'] }),
  );
}

/** Writes a drizzle migrations folder with the given SQL files (`tag` -> SQL), in order. */
export async function writeMigrations(
  folder: string,
  migrations: [tag: string, sql: string][],
): Promise<void> {
  await mkdir(path.join(folder, 'meta'), { recursive: true });
  const entries = migrations.map(([tag], idx) => ({
    idx,
    version: '7',
    when: 1_700_000_000_000 + idx * 1000,
    tag,
    breakpoints: true,
  }));
  for (const [tag, sql] of migrations) await writeFile(path.join(folder, `${tag}.sql`), sql);
  await writeFile(
    path.join(folder, 'meta', '_journal.json'),
    JSON.stringify({ version: '7', dialect: 'postgresql', entries }),
  );
}

/** Provisions a tenant through GraphQL as `userId` and waits until it is ACTIVE. */
export async function provisionActive(h: Harness, userId: string, organizationName: string): Promise<string> {
  const t = await h.token({ userId });
  const r = await h.gql<{ provisionTenant: { id: string } }>(
    'mutation($input: ProvisionTenantInput!) { provisionTenant(input: $input) { id } }',
    { input: { organizationName } },
    t,
  );
  if (!r.data?.provisionTenant) throw new Error(`provisionTenant failed: ${JSON.stringify(r.errors)}`);
  const tenantId = r.data.provisionTenant.id.replace(/^provision-/, '');
  await waitForStatus(h, tenantId, 'ACTIVE');
  return tenantId;
}

/** Waits until the tenant row has `status` (read as superuser). */
export async function waitForStatus(h: Harness, tenantId: string, status: string): Promise<void> {
  await eventually(async () => {
    const r = await h.admin.query<{ status: string }>('SELECT status FROM tenancy.tenants WHERE id = $1', [
      tenantId,
    ]);
    return r.rows[0]?.status === status ? true : undefined;
  }, `tenant ${tenantId} ${status}`);
}
