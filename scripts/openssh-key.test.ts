import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../lib/config.js';
import { generateEd25519OpenSsh } from './openssh-key.js';

describe('generateEd25519OpenSsh', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tradesage-openssh-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a private key that ssh-keygen reads back to the same public key', async () => {
    const pair = generateEd25519OpenSsh('backup@test');
    expect(pair.privateKey).toMatch(
      /^-----BEGIN OPENSSH PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+\n-----END OPENSSH/,
    );
    expect(pair.publicKey).toMatch(/^ssh-ed25519 [A-Za-z0-9+/=]+ backup@test\n$/);
    const file = path.join(dir, 'id_ed25519');
    await writeFile(file, pair.privateKey, { mode: 0o600 });
    const derived = spawnSync('ssh-keygen', ['-y', '-f', file], { encoding: 'utf8' });
    expect(derived.error).toBeUndefined();
    expect(derived.status).toBe(0);
    const [type, blob] = pair.publicKey.split(' ');
    expect(derived.stdout.trim().split(' ').slice(0, 2)).toEqual([type, blob]);
  });

  it('makes a different key every time', () => {
    const a = generateEd25519OpenSsh('x');
    const b = generateEd25519OpenSsh('x');
    expect(a.publicKey).not.toBe(b.publicKey);
    expect(a.privateKey).not.toBe(b.privateKey);
  });

  it("loads under Node's own ESM loader, as `make setup` runs it (vitest's interop is more lenient)", () => {
    const run = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        "const { generateEd25519OpenSsh } = await import('./scripts/openssh-key.ts'); console.log(generateEd25519OpenSsh('x').publicKey)",
      ],
      { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 60_000 },
    );
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/^ssh-ed25519 /);
  });
});
