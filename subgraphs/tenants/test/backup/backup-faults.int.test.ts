/**
 * Faults of the MA130 transfer, with a real OpenSSH server: the server stopped mid-upload and the
 * connection cut mid-upload fail (retryably) without any file under a final name, and the retry ends
 * with a good backup; a wrong host key, a missing pin and a rejected client key fail at once as
 * permanent errors; a refused connection is a transient error.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BackupConfigError,
  HostKeyMismatchError,
  isPermanentBackupError,
  PermanentBackupError,
} from '../../src/backup/backup.errors.js';
import { runBackup, type BackupRequest, type BackupSettings } from '../../src/backup/backup.pipeline.js';
import { Ma130ConnectionError } from '../../src/backup/ma130.client.js';
import { freePorts } from '../../../../test/support/env.js';
import {
  FaultProxy,
  fillTenant,
  listFiles,
  provisionTenant,
  startBackupContext,
  type BackupTestContext,
} from './support/backup-fixtures.js';

let ctx: BackupTestContext;
let tenantId: string;
let schema: string;

const request = (): BackupRequest => ({
  backupId: randomUUID(),
  tenantId,
  schemaName: schema,
  startedAt: new Date(),
});

const backupWith = (settings: BackupSettings, req: BackupRequest = request()): ReturnType<typeof runBackup> =>
  runBackup({ ownerPool: ctx.ownerPool, settings, keyring: ctx.keyring }, req);

const via = (port: number, patch: Partial<BackupSettings['ma130']> = {}): BackupSettings => ({
  ...ctx.settings,
  ma130: { ...ctx.settings.ma130, port, ...patch },
});

/** Files of a backup id under the MA130 root. */
async function filesOf(backupId: string): Promise<string[]> {
  return (await listFiles(ctx.sshd.root)).filter((f) => f.includes(backupId));
}

/** A backup through `settings` fails mid-upload: a retryable error, only `.part` files left. */
async function expectRetryableFailure(settings: BackupSettings, req: BackupRequest): Promise<void> {
  const err = await backupWith(settings, req).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(Error);
  expect(isPermanentBackupError(err)).toBe(false);
  for (const f of await filesOf(req.backupId)) expect(f).toMatch(/\.part$/);
}

/** `result` is whole on the host: its file and manifest only, the sha256 matching. Returns the file. */
async function expectWhole(
  req: BackupRequest,
  result: Awaited<ReturnType<typeof runBackup>>,
): Promise<Buffer> {
  expect(await filesOf(req.backupId)).toEqual(
    [result.remotePath, result.manifestPath].map((p) => p.slice(ctx.sshd.root.length + 1)).sort(),
  );
  const bytes = await readFile(result.remotePath);
  expect(createHash('sha256').update(bytes).digest('hex')).toBe(result.manifest.sha256);
  return bytes;
}

beforeAll(async () => {
  ctx = await startBackupContext('backup_faults', { BACKUP_GZIP_LEVEL: '1' });
  ({ tenantId, schema } = await provisionTenant(ctx));
  // ~3 MB of random hex: the upload is well over a megabyte, so there is a "middle" to cut.
  await fillTenant(ctx, schema, { bulkRows: 300, bulkBytes: 10_000 });
});

afterAll(async () => {
  await ctx?.cleanup();
});

describe('mid-upload faults', () => {
  it('sshd stopped mid-upload: retryable error, no final file; the retry ends with a good backup', async () => {
    const proxy = new FaultProxy(ctx.sshd.port, 512 * 1024, async () => {
      await ctx.sshd.stop();
    });
    const port = await proxy.start();
    const req = request();
    try {
      await expectRetryableFailure(via(port), req);
      expect(proxy.forwarded).toBeGreaterThanOrEqual(512 * 1024);
    } finally {
      await proxy.stop();
      await ctx.sshd.restart();
    }
    const bytes = await expectWhole(req, await backupWith(ctx.settings, req));
    expect(bytes.length).toBeGreaterThan(1024 * 1024);
  });

  it('connection cut mid-upload: retryable error, no final file; the retry ends with a good backup', async () => {
    const proxy = new FaultProxy(ctx.sshd.port, 768 * 1024, (p) => {
      p.cut();
      return Promise.resolve();
    });
    const port = await proxy.start();
    const req = request();
    try {
      await expectRetryableFailure(via(port), req);
    } finally {
      await proxy.stop();
    }
    const retry = new FaultProxy(ctx.sshd.port);
    try {
      await expectWhole(req, await backupWith(via(await retry.start()), req));
    } finally {
      await retry.stop();
    }
  });
});

describe('permanent and transient connection errors', () => {
  it('a wrong host key fails at once, permanently, naming both fingerprints; nothing is written', async () => {
    const wrong = `SHA256:${createHash('sha256').update('not the host key').digest('base64').replace(/=+$/, '')}`;
    const req = request();
    const err = await backupWith(via(ctx.sshd.port, { hostKeySha256: wrong }), req).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostKeyMismatchError);
    expect(isPermanentBackupError(err)).toBe(true);
    expect(err).toMatchObject({ expected: wrong, actual: ctx.sshd.hostKeySha256 });
    expect(String((err as Error).message)).toContain('host key mismatch');
    expect(await filesOf(req.backupId)).toEqual([]);
  });

  it('no pinned host key: a permanent configuration error, before connecting', async () => {
    const err = await backupWith(via(ctx.sshd.port, { hostKeySha256: undefined })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackupConfigError);
  });

  it('a client key the server does not accept: permanent', async () => {
    const err = await backupWith(via(ctx.sshd.port, { username: 'nobody-here' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentBackupError);
    expect(String((err as Error).message)).toContain('rejected the key');
  });

  it('nothing listening: a transient connection error', async () => {
    const [closed] = await freePorts(1);
    const err = await backupWith(via(closed ?? 1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Ma130ConnectionError);
    expect(isPermanentBackupError(err)).toBe(false);
  });
});
