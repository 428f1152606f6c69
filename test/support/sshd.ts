/**
 * A real OpenSSH server for integration tests (the MA130 of the backup tests): `sshd -D -e -f <cfg>`
 * on 127.0.0.1 and a free port, with its own host key, `authorized_keys` holding a client key generated
 * for the test, SFTP only. See ops/ma130/local-sshd.ts for the configuration and for who logs in
 * (root when the tests run as root, as in CI; otherwise the current user).
 *
 * Needs `apt-get install -y openssh-server`.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { startLocalSshd, type LocalSshd } from '../../ops/ma130/local-sshd.js';
import { freePorts } from './env.js';

export interface TestSshd extends LocalSshd {
  /** Local folder the tests use as MA130_BACKUP_PATH (the server sees the same path). */
  root: string;
  /** Alias of `hostKeySha256`. */
  hostKeyFingerprint: string;
  /** Configuration variables pointing the backup code at this server. */
  env: Record<string, string>;
}

/**
 * Starts an SFTP-only OpenSSH server whose files live under `dir` (absolute; usually the test env's
 * tmpDir). Call `stop()` in afterAll.
 */
export async function startTestSshd(dir: string): Promise<TestSshd> {
  const sshdDir = path.join(dir, 'sshd');
  const root = path.join(dir, 'ma130');
  await mkdir(root, { recursive: true });
  // A port below the ephemeral range (like every test port: see freePorts), so no outgoing
  // connection of a parallel test file can be holding it by the time sshd binds.
  let sshd: LocalSshd | undefined;
  for (let attempt = 1; !sshd; attempt++) {
    const [port] = await freePorts(1);
    try {
      sshd = await startLocalSshd({ dir: sshdDir, ...(port ? { port } : {}) });
    } catch (err) {
      // Taken in between by another test file: try another port.
      if (attempt >= 3) throw err;
    }
  }
  return Object.assign(sshd, {
    root,
    hostKeyFingerprint: sshd.hostKeySha256,
    env: {
      MA130_HOST: sshd.host,
      MA130_PORT: String(sshd.port),
      MA130_USERNAME: sshd.username,
      MA130_KEY_PATH: sshd.clientKeyPath,
      MA130_BACKUP_PATH: root,
      MA130_HOST_KEY_SHA256: sshd.hostKeySha256,
      MA130_CONNECT_TIMEOUT_MS: '5000',
    },
  });
}
