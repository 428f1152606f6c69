import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { jwtVerify, SignJWT } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ensureSigningKeys,
  loadSigningKeys,
  removeSigningKey,
  rotateSigningKey,
  SigningKeyStore,
} from './keys.js';

let dir: string;

beforeEach(async () => {
  dir = path.join(await mkdtemp(path.join(os.tmpdir(), 'tradesage-keys-')), 'jwt');
});

afterEach(async () => {
  await rm(path.dirname(dir), { recursive: true, force: true });
});

describe('signing keys on disk', () => {
  it('creates one private key (mode 0600, folder 0700) when the folder has none, and only then', async () => {
    const [kid] = await ensureSigningKeys(dir);
    expect(kid).toMatch(/^\d{8}T\d{9}Z-[0-9a-f]{8}$/);
    expect(await ensureSigningKeys(dir)).toEqual([kid]);
    const files = await readdir(dir);
    expect(files).toEqual([`ed25519-${kid}.pem`]);
    expect((await stat(path.join(dir, files[0]!))).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
  });

  it('publishes public Ed25519 JWKs with the kid', async () => {
    await ensureSigningKeys(dir);
    const [key] = await loadSigningKeys(dir);
    expect(key?.publicJwk).toMatchObject({
      kty: 'OKP',
      crv: 'Ed25519',
      kid: key?.kid,
      alg: 'EdDSA',
      use: 'sig',
    });
    expect(key?.publicJwk).not.toHaveProperty('d');
  });

  it('rotates: the newest key signs, older ones stay published until removed', async () => {
    const [first] = await ensureSigningKeys(dir);
    // Kids sort by creation time in milliseconds; make sure the clock moved on.
    await new Promise((r) => setTimeout(r, 5));
    const second = await rotateSigningKey(dir);
    const store = await SigningKeyStore.open(dir, 0);
    expect(store.current().kid).toBe(second);
    expect(store.jwks().keys.map((k) => k.kid)).toEqual([second, first]);

    const oldToken = await new SignJWT({})
      .setProtectedHeader({ alg: 'EdDSA', kid: first! })
      .sign((await loadSigningKeys(dir)).find((k) => k.kid === first)!.privateKey);
    await expect(jwtVerify(oldToken, store.getKey)).resolves.toBeDefined();

    await removeSigningKey(dir, first!);
    await store.reload();
    expect(store.jwks().keys.map((k) => k.kid)).toEqual([second]);
    await expect(jwtVerify(oldToken, store.getKey)).rejects.toThrow();
    await expect(removeSigningKey(dir, second)).rejects.toThrow(/only signing key/);
    store.close();
  });
});
