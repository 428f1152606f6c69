import { spawnSync } from 'node:child_process';
import { copyFile, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../lib/config.js';
import { runSetup } from './setup.js';

async function snapshot(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const rel of ['.env', 'keys/ma130_rsa', 'keys/ma130_rsa.pub', 'keys/backup.key']) {
    out[rel] = await readFile(path.join(root, rel), 'utf8');
  }
  for (const f of await readdir(path.join(root, 'keys/jwt'))) {
    out[`keys/jwt/${f}`] = await readFile(path.join(root, 'keys/jwt', f), 'utf8');
  }
  return out;
}

const mode = async (p: string): Promise<number> => (await stat(p)).mode & 0o777;

describe.each([
  { label: 'ssh-keygen', forceNodeSshKeys: false },
  { label: 'node:crypto', forceNodeSshKeys: true },
])('runSetup ($label for the MA130 key)', ({ forceNodeSshKeys }) => {
  let root = '';
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'tradesage-setup-'));
    await copyFile(path.join(PROJECT_ROOT, 'env.example'), path.join(root, 'env.example'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('creates directories, keys and .env, private files readable by the owner only', async () => {
    const jwtKeysDir = path.join(root, 'keys/jwt');
    const report = await runSetup({ root, jwtKeysDir, forceNodeSshKeys });
    expect(report.created).toEqual(
      expect.arrayContaining([
        'data',
        'data/logs',
        'keys',
        '.env',
        'keys/jwt',
        'keys/ma130_rsa',
        'keys/backup.key',
      ]),
    );
    expect(report.kept).toEqual([]);

    const env = await readFile(path.join(root, '.env'), 'utf8');
    expect(env).toMatch(/^SERVICE_TOKEN=[0-9a-f]{64}$/m);
    expect(await mode(path.join(root, '.env'))).toBe(0o600);

    const backupKey = await readFile(path.join(root, 'keys/backup.key'), 'utf8');
    expect(Buffer.from(backupKey.trim(), 'base64')).toHaveLength(32);
    expect(await mode(path.join(root, 'keys/backup.key'))).toBe(0o600);

    expect(await mode(path.join(root, 'keys/ma130_rsa'))).toBe(0o600);
    const derived = spawnSync('ssh-keygen', ['-y', '-f', path.join(root, 'keys/ma130_rsa')], {
      encoding: 'utf8',
    });
    expect(derived.status).toBe(0);
    const pub = await readFile(path.join(root, 'keys/ma130_rsa.pub'), 'utf8');
    expect(pub.split(' ').slice(0, 2)).toEqual(derived.stdout.trim().split(' ').slice(0, 2));

    expect((await readdir(jwtKeysDir)).length).toBeGreaterThan(0);
  });

  it('is idempotent: a second run keeps every file as it was', async () => {
    const before = await snapshot(root);
    const report = await runSetup({ root, jwtKeysDir: path.join(root, 'keys/jwt'), forceNodeSshKeys });
    expect(report.created).toEqual([]);
    expect(await snapshot(root)).toEqual(before);
  });
});
