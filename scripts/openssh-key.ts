/**
 * Ed25519 key pairs in OpenSSH's own formats, generated with node:crypto. `make setup` prefers
 * `ssh-keygen`; this is the fallback for machines and container images without openssh-client,
 * so setup never needs another package to produce the MA130 key.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';

/** An OpenSSH key pair as file contents. */
export interface OpenSshKeyPair {
  /** `-----BEGIN OPENSSH PRIVATE KEY-----` (unencrypted), as `ssh-keygen` writes it. */
  privateKey: string;
  /** One `authorized_keys` line: `ssh-ed25519 <base64> <comment>`. */
  publicKey: string;
}

function sshString(value: Buffer | string): Buffer {
  const data = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  return Buffer.concat([length, data]);
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/**
 * Generates an Ed25519 key pair encoded like `ssh-keygen -t ed25519 -N ''` (format
 * `openssh-key-v1`, cipher and KDF `none`).
 * @param comment stored in both files (conventionally `user@host`)
 */
export function generateEd25519OpenSsh(comment: string): OpenSshKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
  const seed = Buffer.from(jwk.d ?? '', 'base64url');
  if (pub.length !== 32 || seed.length !== 32) throw new Error('unexpected Ed25519 key size');

  const keyType = 'ssh-ed25519';
  const publicBlob = Buffer.concat([sshString(keyType), sshString(pub)]);
  // Two equal random "check" words let a reader detect a wrong passphrase; with no cipher they
  // only need to match.
  const check = randomBytes(4);
  let secret = Buffer.concat([
    check,
    check,
    sshString(keyType),
    sshString(pub),
    sshString(Buffer.concat([seed, pub])),
    sshString(comment),
  ]);
  // Padded with 1, 2, 3, ... to the cipher block size (8 for "none").
  const padding: number[] = [];
  for (let i = 1; (secret.length + padding.length) % 8 !== 0; i++) padding.push(i);
  secret = Buffer.concat([secret, Buffer.from(padding)]);

  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0', 'latin1'),
    sshString('none'),
    sshString('none'),
    sshString(''),
    uint32(1),
    sshString(publicBlob),
    sshString(secret),
  ]);
  const lines = body.toString('base64').match(/.{1,70}/g) ?? [];
  return {
    privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`,
    publicKey: `${keyType} ${publicBlob.toString('base64')} ${comment}\n`,
  };
}
