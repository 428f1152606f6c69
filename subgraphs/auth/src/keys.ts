/**
 * JWT signing keys: Ed25519 private keys as PKCS#8 PEM files named `ed25519-<kid>.pem` in one folder.
 * Kids start with a UTC timestamp, so sorting them sorts keys by age: the newest key signs, every
 * key in the folder is published in the JWKS. Rotation = add a key (`rotate`), wait at least the
 * access-token lifetime, then remove the old file (`remove <kid>`).
 *
 * CLI: `tsx subgraphs/auth/src/keys.ts <ensure|rotate|list|remove <kid>> [--dir <folder>]`
 * (the folder defaults to `JWT_KEYS_DIR`).
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { mkdir, readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createLocalJWKSet, type JSONWebKeySet, type JWK, type JWTVerifyGetKey } from 'jose';
import { ACCESS_TOKEN_ALG } from '../../../lib/auth.js';

const FILE = /^ed25519-([A-Za-z0-9_-]{1,64})\.pem$/;

/** One signing key. */
export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  /** The public half as a JWK, ready for the JWKS. */
  publicJwk: JWK;
}

function newKid(now = new Date()): string {
  // 20250101T120000123Z-ab12cd34: sorts by creation time (to the millisecond); the suffix keeps two
  // keys made in the same millisecond apart.
  const stamp = now.toISOString().replace(/[-:.]/g, '');
  return `${stamp}-${randomBytes(4).toString('hex')}`;
}

async function kidsIn(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  return names
    .map((n) => FILE.exec(n)?.[1])
    .filter((k): k is string => k !== undefined)
    .sort()
    .reverse();
}

/**
 * Adds a new Ed25519 key to `dir` (created with mode 0700 when missing; the key file is 0600).
 * @returns the new key's kid; it signs from now on
 */
export async function rotateSigningKey(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const kid = newKid();
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' });
  // 'wx': never overwrite an existing key.
  await writeFile(path.join(dir, `ed25519-${kid}.pem`), pem, { mode: 0o600, flag: 'wx' });
  return kid;
}

/**
 * Makes sure `dir` holds at least one signing key, creating one when it holds none.
 * @returns the kids present, newest first
 */
export async function ensureSigningKeys(dir: string): Promise<string[]> {
  const kids = await kidsIn(dir);
  if (kids.length > 0) return kids;
  await rotateSigningKey(dir);
  return kidsIn(dir);
}

/** Loads every key of `dir`, newest first. */
export async function loadSigningKeys(dir: string): Promise<SigningKey[]> {
  const kids = await kidsIn(dir);
  return Promise.all(
    kids.map(async (kid) => {
      const privateKey = createPrivateKey(await readFile(path.join(dir, `ed25519-${kid}.pem`), 'utf8'));
      if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`key ${kid} is not an Ed25519 key`);
      const jwk = createPublicKey(privateKey).export({ format: 'jwk' }) as JWK;
      return { kid, privateKey, publicJwk: { ...jwk, kid, alg: ACCESS_TOKEN_ALG, use: 'sig' } };
    }),
  );
}

/**
 * Removes one key. Refuses to remove the last one (nothing could sign).
 * @returns the kids left, newest first
 */
export async function removeSigningKey(dir: string, kid: string): Promise<string[]> {
  const kids = await kidsIn(dir);
  if (!kids.includes(kid)) throw new Error(`no key ${kid} in ${dir}`);
  if (kids.length === 1) throw new Error('refusing to remove the only signing key');
  await unlink(path.join(dir, `ed25519-${kid}.pem`));
  return kidsIn(dir);
}

/**
 * The keys of a folder held in memory, reloaded when the folder's key files change, so a rotation
 * done by an operator (or another replica's setup) takes effect without a restart.
 */
export class SigningKeyStore {
  private keys: SigningKey[] = [];
  private names = '';
  private localSet: JWTVerifyGetKey | undefined;
  private timer: NodeJS.Timeout | undefined;

  private constructor(private readonly dir: string) {}

  /**
   * Opens the store: creates a key when the folder has none, loads the keys, and re-checks the
   * folder every `reloadMs` (0 disables the timer; {@link reload} still works).
   */
  static async open(dir: string, reloadMs = 10_000): Promise<SigningKeyStore> {
    await ensureSigningKeys(dir);
    const store = new SigningKeyStore(dir);
    await store.reload();
    if (reloadMs > 0) {
      store.timer = setInterval(() => {
        // A failed reload keeps the keys already loaded; the next tick tries again.
        store.reload().catch(() => undefined);
      }, reloadMs);
      store.timer.unref();
    }
    return store;
  }

  /** Re-reads the folder when its key files changed. */
  async reload(): Promise<void> {
    const kids = await kidsIn(this.dir);
    const names = kids.join(',');
    if (names === this.names && this.keys.length > 0) return;
    const keys = await loadSigningKeys(this.dir);
    if (keys.length === 0) return;
    this.keys = keys;
    this.names = names;
    this.localSet = undefined;
  }

  /** The key that signs new tokens (the newest). */
  current(): SigningKey {
    const key = this.keys[0];
    if (!key) throw new Error('no signing key loaded');
    return key;
  }

  /** The public JWKS: every key in the folder. */
  jwks(): JSONWebKeySet {
    return { keys: this.keys.map((k) => k.publicJwk) };
  }

  /** A jose key getter over the current JWKS, for verifying our own tokens without an HTTP round trip. */
  readonly getKey: JWTVerifyGetKey = (header, token) => {
    this.localSet ??= createLocalJWKSet(this.jwks());
    return this.localSet(header, token);
  };

  /** Stops the reload timer. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

async function cli(argv: string[]): Promise<void> {
  const dirFlag = argv.indexOf('--dir');
  const args = dirFlag >= 0 ? argv.filter((_, i) => i !== dirFlag && i !== dirFlag + 1) : argv;
  let dir = dirFlag >= 0 ? argv[dirFlag + 1] : undefined;
  if (!dir) {
    // Imported lazily: the config needs a full environment, which `--dir` does not.
    const { loadAuthConfig } = await import('./config.js');
    dir = loadAuthConfig().JWT_KEYS_DIR;
  }
  const command = args[0] ?? '';
  const arg = args[1];
  switch (command) {
    case 'ensure':
      console.log((await ensureSigningKeys(dir)).join('\n'));
      return;
    case 'rotate':
      console.log(`new signing key: ${await rotateSigningKey(dir)}`);
      console.log('The previous keys stay published; remove them once tokens they signed have expired.');
      return;
    case 'list': {
      const kids = await kidsIn(dir);
      kids.forEach((k, i) => console.log(`${k}${i === 0 ? '  (signing)' : ''}`));
      return;
    }
    case 'remove':
      if (!arg) throw new Error('usage: keys.ts remove <kid>');
      console.log((await removeSigningKey(dir, arg)).join('\n'));
      return;
    default:
      throw new Error(
        'usage: tsx subgraphs/auth/src/keys.ts <ensure|rotate|list|remove <kid>> [--dir <folder>]',
      );
  }
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  cli(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
