/**
 * Provisioning benchmark (issue 2):
 *  1. registration to ACTIVE through the gateway, N sequential registrations: p50 / p90 / max;
 *  2. provision many tenants in one run (default 1,000) through the gateway and report the per-tenant
 *     cost per hundred (wall time from the first enqueue to ACTIVE, per block of 100 by completion).
 * The platform runs as `make prod` starts it (bench/deployed-platform.ts: every process from `dist/`,
 * real auth, sessions and tenants worker). `PROVISIONING_CONCURRENCY` and `TENANT_POOL_SIZE` in this
 * shell are passed on.
 * Run: `npx tsx bench/provisioning.ts [registrations=50] [tenants=1000]`. Uses its own database and
 * Redis prefix, loopback only, and stops by itself.
 */
import pg from 'pg';
import { processEnv } from '../lib/config.js';
import { adminUrlOf } from '../test/support/env.js';
import { gql } from '../test/support/graphql.js';
import { schemaPoolFull, startDeployedPlatform } from './deployed-platform.js';

const registrations = Number(process.argv[2] ?? 50);
const tenants = Number(process.argv[3] ?? 1000);

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function main(): Promise<void> {
  const workerConcurrency = processEnv()['PROVISIONING_CONCURRENCY'];
  const deployed = await startDeployedPlatform('bench_prov', {
    // The second part creates 1,000 organizations for 16 owners.
    TENANTS_MAX_OWNED_PER_USER: '1000000',
    ...(workerConcurrency ? { PROVISIONING_CONCURRENCY: workerConcurrency } : {}),
  });
  const { env } = deployed;
  const url = deployed.graphqlUrl;
  // The bench reads every tenant's row: as the superuser of its own database (tenancy.tenants has
  // forced row-level security, so the owner role sees no rows outside a platform scope).
  const db = new pg.Client({ connectionString: adminUrlOf(env.config) });
  await db.connect();
  try {
    // 1. registration -> ACTIVE. The first TENANT_POOL_SIZE take schemas built ahead (the pool is full
    // when they start); back to back, the rest find it empty (refills wait for a pause in sign-ups).
    await schemaPoolFull(deployed.vars);
    const poolSize = Number(deployed.vars['TENANT_POOL_SIZE'] ?? 0);
    const times: number[] = [];
    for (let i = 0; i < registrations; i++) {
      const t0 = performance.now();
      const r = await gql<{ register: { accessToken: string; tenant: { id: string } } }>(
        url,
        'mutation($input: RegisterInput!) { register(input: $input) { accessToken tenant { id } } }',
        {
          input: {
            email: `bench${i}@example.com`,
            password: 'benchmark password 1',
            organizationName: `Bench ${i}`,
          },
        },
      );
      if (!r.data) throw new Error(JSON.stringify(r.errors));
      const { accessToken, tenant } = r.data.register;
      for (;;) {
        const s = await gql<{ tenant: { status: string } }>(
          url,
          'query($id: ID!) { tenant(id: $id) { status } }',
          { id: tenant.id },
          accessToken,
        );
        if (s.data?.tenant.status === 'ACTIVE') break;
        if (s.data?.tenant.status === 'FAILED') throw new Error('provisioning failed');
        await new Promise((res) => setTimeout(res, 5));
      }
      times.push(performance.now() - t0);
    }
    const summary = (label: string, xs: number[]): void => {
      if (xs.length === 0) return;
      const sorted = [...xs].sort((a, b) => a - b);
      console.log(
        `registration -> ACTIVE (${label}): p50 ${pct(sorted, 50).toFixed(0)} ms, p90 ${pct(sorted, 90).toFixed(0)} ms, max ${sorted.at(-1)?.toFixed(0)} ms`,
      );
    };
    summary(`${registrations} sequential`, times);
    summary(`the first ${Math.min(poolSize, registrations)}, schema from the pool`, times.slice(0, poolSize));
    summary(`the other ${Math.max(0, registrations - poolSize)}, schema built`, times.slice(poolSize));

    // 2. many tenants in one run
    const login = await gql<{ login: { accessToken: string } }>(
      url,
      'mutation($input: LoginInput!) { login(input: $input) { accessToken } }',
      { input: { email: 'bench0@example.com', password: 'benchmark password 1' } },
    );
    const token = login.data!.login.accessToken;
    const start = Date.now();
    const before = new Date();
    const concurrency = 16;
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < tenants) {
          const i = next++;
          const r = await gql(
            url,
            'mutation($input: ProvisionTenantInput!) { provisionTenant(input: $input) { id } }',
            { input: { organizationName: `Bulk ${i}` } },
            token,
          );
          if (r.errors) throw new Error(JSON.stringify(r.errors));
        }
      }),
    );
    const enqueued = Date.now() - start;
    for (;;) {
      const r = await db.query<{ n: number; failed: number }>(
        `SELECT count(*) FILTER (WHERE status = 'ACTIVE')::int AS n, count(*) FILTER (WHERE status = 'FAILED')::int AS failed FROM tenancy.tenants WHERE created_at >= $1`,
        [before],
      );
      const row = r.rows[0]!;
      if (row.failed > 0) throw new Error(`${row.failed} tenants FAILED`);
      if (row.n >= tenants) break;
      await new Promise((res) => setTimeout(res, 250));
    }
    const done = await db.query<{ provisioned_at: Date }>(
      `SELECT provisioned_at FROM tenancy.tenants WHERE created_at >= $1 ORDER BY provisioned_at`,
      [before],
    );
    const stamps = done.rows.map((r) => r.provisioned_at.getTime());
    const total = (stamps.at(-1)! - start) / 1000;
    console.log(
      `provisioned ${tenants} tenants in ${total.toFixed(1)} s (enqueue ${(enqueued / 1000).toFixed(1)} s, worker concurrency ${workerConcurrency ?? 'default (1)'})`,
    );
    const blocks: string[] = [];
    for (let b = 0; b * 100 < stamps.length; b++) {
      const from = b === 0 ? start : stamps[b * 100 - 1]!;
      const to = stamps[Math.min(stamps.length, (b + 1) * 100) - 1]!;
      blocks.push(`${b + 1}:${((to - from) / 100).toFixed(1)}`);
    }
    console.log(`ms per tenant by hundred: ${blocks.join(' ')}`);
    const first = (stamps[99]! - start) / 100;
    const last = (stamps.at(-1)! - stamps.at(-101)!) / 100;
    console.log(`last hundred / first hundred: ${(last / first).toFixed(2)}x`);
  } finally {
    await db.end();
    await deployed.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
