/**
 * `make setup`: creates the local directories and every key the platform needs, and `.env` from
 * `env.example`. Idempotent: anything that exists is kept as it is (an existing `.env` or key is
 * never overwritten), so it runs before every `make dev`.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROJECT_ROOT } from '../lib/config.js';
import { loadAuthConfig } from '../subgraphs/auth/src/config.js';
import { ensureSigningKeys } from '../subgraphs/auth/src/keys.js';
import { newServiceToken, renderEnvFile } from './env-file.js';
import { generateEd25519OpenSsh } from './openssh-key.js';
import { ensureLocalCa, hasOpenssl, tlsFiles } from './cluster/tls-ca.js';

/** Where setup writes, relative to nothing: every path is absolute. */
export interface SetupOptions {
  /** Repository root: `data/`, `keys/`, `.env` and `env.example` live here. */
  root: string;
  /** JWT signing keys (`JWT_KEYS_DIR`). */
  jwtKeysDir: string;
  /** Use node:crypto even when ssh-keygen exists (tests cover both paths). */
  forceNodeSshKeys?: boolean;
}

/** What one run created and what it found already there (paths relative to the root). */
export interface SetupReport {
  created: string[];
  kept: string[];
}

async function writeNew(file: string, content: string, mode: number): Promise<void> {
  // 'wx' fails when the file exists, so a race with another setup can never overwrite a key.
  await writeFile(file, content, { flag: 'wx', mode });
  await chmod(file, mode);
}

function hasSshKeygen(): boolean {
  return spawnSync('ssh-keygen', ['-?'], { stdio: 'ignore' }).error === undefined;
}

async function ensureSshKey(privatePath: string, forceNode: boolean): Promise<'created' | 'kept'> {
  const publicPath = `${privatePath}.pub`;
  const comment = `tradesage-backup@${os.hostname()}`;
  if (existsSync(privatePath)) {
    if (!existsSync(publicPath) && hasSshKeygen()) {
      const derived = spawnSync('ssh-keygen', ['-y', '-f', privatePath], { encoding: 'utf8' });
      if (derived.status === 0) await writeNew(publicPath, `${derived.stdout.trim()} ${comment}\n`, 0o644);
    }
    return 'kept';
  }
  if (!forceNode && hasSshKeygen()) {
    const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', privatePath], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    if (r.status !== 0) throw new Error(`ssh-keygen failed with status ${String(r.status)}`);
    await chmod(privatePath, 0o600);
    return 'created';
  }
  const pair = generateEd25519OpenSsh(comment);
  await writeNew(privatePath, pair.privateKey, 0o600);
  await writeNew(publicPath, pair.publicKey, 0o644);
  return 'created';
}

/**
 * Creates `data/`, `data/logs/`, `keys/`, JWT signing keys, the MA130 SSH key pair
 * (`keys/ma130_rsa` + `.pub`, Ed25519 despite the seed's file name), the backup encryption key
 * (`keys/backup.key`: 32 random bytes, base64, mode 600) and `.env` (from `env.example`, with a
 * random SERVICE_TOKEN) — each only when missing.
 */
export async function runSetup(opts: SetupOptions): Promise<SetupReport> {
  const report: SetupReport = { created: [], kept: [] };
  const rel = (p: string): string => path.relative(opts.root, p) || '.';
  const note = (state: 'created' | 'kept', p: string): void => {
    report[state].push(rel(p));
  };

  for (const dir of ['data', 'data/logs']) {
    const p = path.join(opts.root, dir);
    note(existsSync(p) ? 'kept' : 'created', p);
    await mkdir(p, { recursive: true });
  }
  const keys = path.join(opts.root, 'keys');
  note(existsSync(keys) ? 'kept' : 'created', keys);
  await mkdir(keys, { recursive: true, mode: 0o700 });

  const envFile = path.join(opts.root, '.env');
  if (existsSync(envFile)) {
    note('kept', envFile);
  } else {
    const example = await readFile(path.join(opts.root, 'env.example'), 'utf8');
    await writeNew(envFile, renderEnvFile(example, newServiceToken()), 0o600);
    note('created', envFile);
  }

  await mkdir(opts.jwtKeysDir, { recursive: true, mode: 0o700 });
  const before = (await readdir(opts.jwtKeysDir)).length;
  await ensureSigningKeys(opts.jwtKeysDir);
  note(before === 0 ? 'created' : 'kept', opts.jwtKeysDir);

  const ma130 = path.join(keys, 'ma130_rsa');
  note(await ensureSshKey(ma130, opts.forceNodeSshKeys ?? false), ma130);

  const backupKey = path.join(keys, 'backup.key');
  if (existsSync(backupKey)) {
    note('kept', backupKey);
  } else {
    await writeNew(backupKey, `${randomBytes(32).toString('base64')}\n`, 0o600);
    note('created', backupKey);
  }

  // The cluster's TLS (issue 12): a local CA and a loopback server certificate, when openssl exists.
  if (hasOpenssl()) note(await ensureLocalCa(keys), path.dirname(tlsFiles(keys).caCert));
  return report;
}

async function main(): Promise<void> {
  const quiet = process.argv.includes('--quiet');
  // `.env` first: JWT_KEYS_DIR (and everything else) may be configured there.
  const envFile = path.join(PROJECT_ROOT, '.env');
  if (!existsSync(envFile)) {
    const example = await readFile(path.join(PROJECT_ROOT, 'env.example'), 'utf8');
    await writeNew(envFile, renderEnvFile(example, newServiceToken()), 0o600);
    console.log('created .env from env.example (with a random SERVICE_TOKEN)');
  }
  const config = loadAuthConfig();
  const report = await runSetup({ root: PROJECT_ROOT, jwtKeysDir: config.JWT_KEYS_DIR });
  for (const p of report.created) console.log(`created ${p}`);
  if (!quiet) for (const p of report.kept) console.log(`kept    ${p}`);
  if (report.created.some((p) => p.endsWith('ma130_rsa'))) {
    console.log(
      'MA130: `make dev` starts a development MA130 with this key; for a real host, see ops/ma130/README.md.',
    );
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
