/**
 * Backups through the gateway, as a web client uses them: a registered organization gets its INITIAL
 * backup, `backupTenant` returns a job whose progress `job(id)` reports until it completes, the backup
 * shows in `tenant { backups }` and `tenant { health }`, and `restoreTenant` restores it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../../../../test/support/env.js';
import { eventually, gql, startPlatform, type RunningPlatform } from '../../../../test/support/platform.js';
import { startTestSshd, type TestSshd } from '../../../../test/support/sshd.js';
import { newKeyEntry } from './support/backup-fixtures.js';

const REGISTER =
  'mutation($input: RegisterInput!) { register(input: $input) { accessToken tenant { id status } } }';
const JOB = 'query($id: ID!) { job(id: $id) { id kind state progress error } }';
const BACKUPS = 'query($id: ID!) { tenant(id: $id) { backups { id type status progress sha256 path } } }';

let dir: string;
let sshd: TestSshd;
let env: TestEnv;
let platform: RunningPlatform;
let url: string;
let token: string;
let tenantId: string;

interface JobView {
  id: string;
  kind: string;
  state: string;
  progress: number;
  error: string | null;
}

async function settle(jobId: string): Promise<{ job: JobView; seen: number[] }> {
  const seen: number[] = [];
  const job = await eventually(
    async () => {
      const r = await gql<{ job: JobView }>(url, JOB, { id: jobId }, token);
      if (r.data?.job) seen.push(r.data.job.progress);
      const s = r.data?.job.state;
      return s === 'completed' || s === 'failed' ? r.data!.job : undefined;
    },
    `job ${jobId}`,
    30_000,
  );
  return { job, seen };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tradesage-backup-e2e-'));
  sshd = await startTestSshd(dir);
  env = await createTestEnv('backup_e2e', {
    ...sshd.env,
    BACKUP_ENCRYPTION_KEYS: newKeyEntry('e2e'),
    BACKUP_GZIP_LEVEL: '1',
    BACKUP_TMP_DIR: dir,
  });
  platform = await startPlatform(env);
  url = platform.gatewayUrl;
  const r = await gql<{ register: { accessToken: string; tenant: { id: string } } }>(url, REGISTER, {
    input: {
      email: 'backup-owner@example.com',
      password: 'correct horse battery staple',
      organizationName: 'E2E Fund',
    },
  });
  expect(r.errors).toBeUndefined();
  token = r.data!.register.accessToken;
  tenantId = r.data!.register.tenant.id;
});

afterAll(async () => {
  await platform?.stop();
  await env?.cleanup();
  await sshd?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('backups through the gateway', () => {
  it('a new organization gets a verified INITIAL backup', async () => {
    const initial = await eventually(
      async () => {
        const r = await gql<{ tenant: { backups: { type: string; status: string }[] } }>(
          url,
          BACKUPS,
          { id: tenantId },
          token,
        );
        const b = r.data?.tenant.backups.find((x) => x.type === 'INITIAL');
        return b?.status === 'VERIFIED' ? b : undefined;
      },
      'INITIAL backup',
      30_000,
    );
    expect(initial).toMatchObject({ type: 'INITIAL', status: 'VERIFIED', progress: 100 });
  });

  it('backupTenant returns a job; job(id) follows it to completed; the backup is listed and healthy', async () => {
    const r = await gql<{ backupTenant: JobView }>(
      url,
      'mutation($id: ID!) { backupTenant(tenantId: $id) { id kind state progress } }',
      { id: tenantId },
      token,
    );
    expect(r.errors).toBeUndefined();
    expect(r.data!.backupTenant.kind).toBe('backup');
    const { job, seen } = await settle(r.data!.backupTenant.id);
    expect(job).toMatchObject({ state: 'completed', progress: 100, error: null });
    expect(seen.every((p, i) => i === 0 || p >= (seen[i - 1] ?? 0))).toBe(true);

    const list = await gql<{ tenant: { backups: { id: string; status: string; type: string }[] } }>(
      url,
      BACKUPS,
      { id: tenantId },
      token,
    );
    const backupId = r.data!.backupTenant.id.replace(/^backup-/, '');
    expect(list.data!.tenant.backups.find((b) => b.id === backupId)).toMatchObject({
      type: 'MANUAL',
      status: 'VERIFIED',
    });

    const health = await gql<{
      tenant: { health: { status: string; lastBackupStatus: string; rowCounts: Record<string, number> } };
    }>(
      url,
      'query($id: ID!) { tenant(id: $id) { health { status lastBackupStatus rowCounts } } }',
      { id: tenantId },
      token,
    );
    expect(health.data!.tenant.health).toMatchObject({ status: 'OK', lastBackupStatus: 'VERIFIED' });
    expect(health.data!.tenant.health.rowCounts['accounts']).toBe(1);
  });

  it('restoreTenant restores a verified backup', async () => {
    const list = await gql<{ tenant: { backups: { id: string; status: string }[] } }>(
      url,
      BACKUPS,
      { id: tenantId },
      token,
    );
    const verified = list.data!.tenant.backups.find((b) => b.status === 'VERIFIED')!;
    const r = await gql<{ restoreTenant: JobView }>(
      url,
      'mutation($id: ID!) { restoreTenant(backupId: $id) { id kind state } }',
      { id: verified.id },
      token,
    );
    expect(r.errors).toBeUndefined();
    const { job } = await settle(r.data!.restoreTenant.id);
    expect(job).toMatchObject({ kind: 'restore', state: 'completed', error: null });
    const me = await gql<{ tenant: { status: string } }>(
      url,
      'query($id: ID!) { tenant(id: $id) { status } }',
      { id: tenantId },
      token,
    );
    expect(me.data!.tenant.status).toBe('ACTIVE');
  });
});
