/**
 * The tenant-isolation tests, run again with every service connection going through the cluster's
 * PgBouncer (transaction pooling, TLS verified): tenant scope is set with SET LOCAL only, so a pooled
 * server connection never carries one tenant's role, search_path or RLS settings into another's
 * transaction. The two isolation files run in a child vitest pointed at the PgBouncer.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processEnv, PROJECT_ROOT } from '../lib/config.js';
import { startTestCluster, type TestCluster } from './support/cluster.js';

const ISOLATION_TESTS = [
  'subgraphs/tenants/test/isolation.int.test.ts',
  'subgraphs/trading/test/isolation.int.test.ts',
];

let dir = '';
let tc: TestCluster;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tradesage-cluster-isolation-'));
  tc = await startTestCluster(dir, {}, (p) => p.kind === 'pgbouncer');
}, 60_000);

afterAll(async () => {
  await tc?.cluster.stop();
  await rm(dir, { recursive: true, force: true });
});

function runVitest(
  files: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [path.join(PROJECT_ROOT, 'node_modules/vitest/vitest.mjs'), 'run', ...files],
      {
        cwd: PROJECT_ROOT,
        env: { ...processEnv(), ...env, FORCE_COLOR: '0', CI: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    // eslint-disable-next-line no-control-regex -- ANSI colour codes
    child.on('close', (code) => resolve({ code, output: output.replace(/\u001b\[[0-9;]*m/g, '') }));
  });
}

describe('tenant isolation through PgBouncer (transaction pooling, TLS)', () => {
  it('passes the tenants and trading isolation tests', async () => {
    const r = await runVitest(ISOLATION_TESTS, {
      TEST_DATABASE_VIA: `127.0.0.1:${tc.cluster.plan.ports.pgbouncer}`,
      TEST_DATABASE_CA: tc.cluster.plan.paths.caCert,
    });
    expect(r.output).toMatch(/Test Files\s+2 passed \(2\)/);
    expect(r.code).toBe(0);
    // The connections really went through it: PgBouncer registered the namespaces' databases.
    expect(await tc.cluster.logOf('pgbouncer')).toMatch(
      /registered new auto-database: db=ts_test_tenants_isolation_/,
    );
  }, 240_000);
});
