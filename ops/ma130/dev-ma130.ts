/**
 * The development MA130: when no MA130 is configured (no pinned `MA130_HOST_KEY_SHA256`), the run
 * command starts a real OpenSSH server on 127.0.0.1, unprivileged, with everything under
 * `data/ma130/` (sshd config and host key in `data/ma130/sshd/`, backups in `data/ma130/backups/`),
 * authorising the project's backup key (`MA130_KEY_PATH` + `.pub`, made by `make setup`). It returns
 * the variables that point the services and the tenants worker at it, so backups work out of the box.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROJECT_ROOT } from '../../lib/config.js';
import { loadTenantsConfig, type TenantsConfig } from '../../subgraphs/tenants/src/config.js';
import { startLocalSshd, type LocalSshd } from './local-sshd.js';

/** A running development MA130 (or nothing, when a real one is configured). */
export interface DevMa130 {
  /** Variables to add to the environment of the services and workers (empty when configured). */
  env: Record<string, string>;
  sshd: LocalSshd | null;
  stop(): Promise<void>;
}

/** Preferred port of the development MA130 (stable, so `sftp -P 2222` works across restarts). */
export const DEV_MA130_PORT = 2222;

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * Starts the development MA130 unless one is configured (see the module comment).
 * @param dataDir defaults to `DATA_DIR` (`<project>/data`)
 *
 * The login user is whoever runs `make dev` (sshd can only authenticate its own user unless it runs
 * as root; as root it is root). That account must not be locked (`passwd -S` not `L`), because the
 * server runs without PAM.
 *
 * Run alone: `npx tsx ops/ma130/dev-ma130.ts` prints the variables and serves until Ctrl-C.
 */
export async function startDevMa130(
  config: Pick<TenantsConfig, 'MA130_HOST_KEY_SHA256' | 'MA130_KEY_PATH' | 'MA130_PORT' | 'DATA_DIR'>,
  dataDir = path.resolve(PROJECT_ROOT, config.DATA_DIR),
): Promise<DevMa130> {
  if (config.MA130_HOST_KEY_SHA256) return { env: {}, sshd: null, stop: () => Promise.resolve() };
  const publicKeyPath = `${path.resolve(PROJECT_ROOT, config.MA130_KEY_PATH)}.pub`;
  let publicKey: string;
  try {
    publicKey = (await readFile(publicKeyPath, 'utf8')).trim();
  } catch {
    throw new Error(`development MA130: ${publicKeyPath} is missing (run make setup)`);
  }
  const root = path.join(dataDir, 'ma130');
  const backups = path.join(root, 'backups');
  const wanted = config.MA130_PORT !== 22 ? config.MA130_PORT : DEV_MA130_PORT;
  const sshd = await startLocalSshd({
    dir: path.join(root, 'sshd'),
    port: (await portFree(wanted)) ? wanted : 0,
    authorizedKeys: [publicKey],
  });
  await mkdir(backups, { recursive: true, mode: 0o750 });
  const env = {
    MA130_HOST: sshd.host,
    MA130_PORT: String(sshd.port),
    MA130_USERNAME: sshd.username,
    MA130_BACKUP_PATH: backups,
    MA130_HOST_KEY_SHA256: sshd.hostKeySha256,
  };
  // For humans (sftp by hand, debugging); the run command passes `env` to the processes itself.
  await writeFile(
    path.join(root, 'ma130.env'),
    `# development MA130 (ops/ma130/dev-ma130.ts), rewritten at every start\n${Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')}\n`,
  );
  return { env, sshd, stop: () => sshd.stop() };
}

/** `tsx ops/ma130/dev-ma130.ts`: the development MA130 alone, until Ctrl-C. */
async function runAlone(): Promise<void> {
  const ma130 = await startDevMa130(loadTenantsConfig());
  if (!ma130.sshd) {
    console.log('An MA130 is configured (MA130_HOST_KEY_SHA256 is set); nothing to start.');
  } else {
    for (const [k, v] of Object.entries(ma130.env)) console.log(`${k}=${v}`);
    console.log(`sshd pid ${ma130.sshd.pid}, log ${ma130.sshd.logPath}; Ctrl-C stops it`);
    const stop = (): void => {
      void ma130.stop().then(() => process.exit(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  }
}

// Not awaited at the top level: this module is bundled into dist/dev.js, a CommonJS bundle.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void runAlone();
