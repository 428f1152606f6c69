import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/config.js';
import { loadTenantsConfig } from './config.js';

const token = randomBytes(32).toString('hex');

describe('loadTenantsConfig', () => {
  it('applies the seed MA130 names and validates the section with the kernel', () => {
    const c = loadTenantsConfig({ SERVICE_TOKEN: token });
    expect(c).toMatchObject({ MA130_HOST: '127.0.0.1', MA130_PORT: 22, MA130_USERNAME: 'tradesage_backup' });
    expect(c.TENANTS_PORT).toBe(8003);
    expect(() => loadTenantsConfig({ SERVICE_TOKEN: token, MA130_BACKUP_PATH: 'relative' })).toThrow(
      /MA130_BACKUP_PATH/,
    );
  });

  it('pins the MA130 host key from its public key file, as ssh-keygen -lf prints it', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tradesage-config-'));
    try {
      const file = path.join(dir, 'host.pub');
      // `ssh-keygen -lf` of this line printed SHA256:VaGP9KqHIgYztDwVJIUDMoIHj8BPVdE5maC6W8DCAvQ.
      writeFileSync(
        file,
        'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICp4dKNHY2HOsc7Q03eVwf5JzJpw2REntPX24qeZC1p7 test\n',
      );
      const c = loadTenantsConfig({ SERVICE_TOKEN: token, MA130_HOST_PUBLIC_KEY_PATH: file });
      expect(c.MA130_HOST_KEY_SHA256).toBe('SHA256:VaGP9KqHIgYztDwVJIUDMoIHj8BPVdE5maC6W8DCAvQ');
      // An explicit fingerprint wins over the file.
      const pinned = 'SHA256:' + 'A'.repeat(43);
      expect(
        loadTenantsConfig({
          SERVICE_TOKEN: token,
          MA130_HOST_PUBLIC_KEY_PATH: file,
          MA130_HOST_KEY_SHA256: pinned,
        }).MA130_HOST_KEY_SHA256,
      ).toBe(pinned);
      expect(() =>
        loadTenantsConfig({
          SERVICE_TOKEN: token,
          MA130_HOST_PUBLIC_KEY_PATH: path.join(dir, 'missing.pub'),
        }),
      ).toThrow(ConfigError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
