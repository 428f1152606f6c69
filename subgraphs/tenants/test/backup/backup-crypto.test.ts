/**
 * The TSBK encryption format: round trips of every size around the chunk boundary, and every kind of
 * tampering detected (truncation at and inside chunks, reordering, a flipped final flag, trailing
 * data, a wrong or unknown key); key parsing and rotation.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import {
  BackupKeyring,
  DecryptStream,
  deriveKeyId,
  EncryptStream,
  parseBackupKeys,
  type BackupKey,
} from '../../src/backup/backup-crypto.js';
import { BackupConfigError, BackupIntegrityError } from '../../src/backup/backup.errors.js';

const key = (id: string): BackupKey => ({ id, key: randomBytes(32) });

/** Feeds `input` in pieces of `piece` bytes (exercises partial headers and chunks). */
async function run(stream: EncryptStream | DecryptStream, input: Buffer, piece = 7777): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < input.length; i += piece) parts.push(input.subarray(i, i + piece));
  const out: Buffer[] = [];
  await pipeline(Readable.from(parts), stream, async (source: AsyncIterable<Buffer>) => {
    for await (const b of source) out.push(b);
  });
  return Buffer.concat(out);
}

const encrypt = (k: BackupKey, plain: Buffer, chunk = 1000): Promise<Buffer> =>
  run(new EncryptStream(k, chunk), plain);
const decrypt = (ring: BackupKeyring, file: Buffer, piece?: number): Promise<Buffer> =>
  run(new DecryptStream(ring), file, piece);

/** Offsets of the chunks of a file. */
function chunks(file: Buffer): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  let off = 7 + (file[6] ?? 0) + 12 + 4;
  while (off < file.length) {
    const end = off + 4 + (file.readUInt32BE(off) & 0x7fffffff) + 16;
    out.push({ start: off, end });
    off = end;
  }
  return out;
}

describe('EncryptStream / DecryptStream', () => {
  const k = key('k1');
  const ring = new BackupKeyring([k]);

  it.each([0, 1, 999, 1000, 1001, 2000, 12_345])('round-trips %i bytes', async (n) => {
    const plain = randomBytes(n);
    const file = await encrypt(k, plain);
    expect(await decrypt(ring, file, 13)).toEqual(plain);
    // Ciphertext, not plaintext: no long run of the input survives.
    if (n >= 64) expect(file.includes(plain.subarray(0, 32))).toBe(false);
    // Exactly one final chunk, last.
    const cs = chunks(file);
    expect(cs.map((c) => file.readUInt32BE(c.start) >>> 31)).toEqual([...cs.slice(1).map(() => 0), 1]);
  });

  it('encrypts the same input differently every time (fresh nonce)', async () => {
    const plain = Buffer.from('same input');
    expect((await encrypt(k, plain)).equals(await encrypt(k, plain))).toBe(false);
  });

  it('detects truncation at every chunk boundary and inside chunks', async () => {
    const file = await encrypt(k, randomBytes(4500));
    const cs = chunks(file);
    expect(cs.length).toBe(5);
    for (const c of cs) {
      await expect(decrypt(ring, file.subarray(0, c.start))).rejects.toMatchObject({ reason: 'truncated' });
      await expect(decrypt(ring, file.subarray(0, c.start + 10))).rejects.toMatchObject({
        reason: 'truncated',
      });
    }
    await expect(decrypt(ring, file.subarray(0, 5))).rejects.toMatchObject({ reason: 'truncated' });
  });

  it('detects reordered chunks, a flipped final flag, flipped bits and trailing data', async () => {
    const file = await encrypt(k, randomBytes(3500));
    const [a, b, c, d] = chunks(file);
    if (!a || !b || !c || !d) throw new Error('expected 4 chunks');
    const head = file.subarray(0, a.start);
    const part = (x: { start: number; end: number }): Buffer => file.subarray(x.start, x.end);
    const swapped = Buffer.concat([head, part(b), part(a), part(c), part(d)]);
    await expect(decrypt(ring, swapped)).rejects.toMatchObject({ reason: 'auth-failed' });

    // Drop the last chunk and claim the one before is final: the flag is authenticated.
    const lastButOne = Buffer.from(part(c));
    lastButOne.writeUInt32BE((lastButOne.readUInt32BE(0) | 0x80000000) >>> 0, 0);
    await expect(decrypt(ring, Buffer.concat([head, part(a), part(b), lastButOne]))).rejects.toMatchObject({
      reason: 'auth-failed',
    });

    for (const at of [a.start + 5, b.end - 1, d.end - 20]) {
      const bad = Buffer.from(file);
      bad[at] = (bad[at] ?? 0) ^ 0x80;
      await expect(decrypt(ring, bad)).rejects.toBeInstanceOf(BackupIntegrityError);
    }
    await expect(decrypt(ring, Buffer.concat([file, Buffer.from([0, 0, 0, 0])]))).rejects.toMatchObject({
      reason: 'trailing-data',
    });
    // A header from another file (other nonce) does not fit these chunks.
    const other = await encrypt(k, randomBytes(3500));
    const otherHead = other.subarray(0, chunks(other)[0]?.start);
    await expect(decrypt(ring, Buffer.concat([otherHead, file.subarray(a.start)]))).rejects.toMatchObject({
      reason: 'auth-failed',
    });
  });

  it('rejects a wrong key, an unknown key id, and bytes that are not a backup', async () => {
    const file = await encrypt(k, randomBytes(100));
    await expect(
      decrypt(new BackupKeyring([{ id: 'k1', key: randomBytes(32) }]), file),
    ).rejects.toMatchObject({
      reason: 'auth-failed',
    });
    await expect(decrypt(new BackupKeyring([key('k2')]), file)).rejects.toMatchObject({
      reason: 'unknown-key',
    });
    await expect(decrypt(ring, Buffer.from('\x1f\x8b gzip, not ours'))).rejects.toMatchObject({
      reason: 'bad-header',
    });
  });

  it('rejects a chunk longer than the header allows (bounded memory)', async () => {
    const file = Buffer.from(await encrypt(k, randomBytes(10)));
    const first = chunks(file)[0]?.start ?? 0;
    file.writeUInt32BE((0x80000000 | 5_000_000) >>> 0, first);
    await expect(decrypt(ring, file)).rejects.toMatchObject({ reason: 'chunk-too-large' });
  });
});

describe('keys', () => {
  it('parses id:base64 entries and bare keys (derived id), commas or lines, comments ignored', () => {
    const a = randomBytes(32);
    const b = randomBytes(32);
    const keys = parseBackupKeys(`# rotated 2024-01\nold:${a.toString('base64')}\n${b.toString('base64')}\n`);
    expect(keys.map((x) => x.id)).toEqual(['old', deriveKeyId(b)]);
    expect(parseBackupKeys(`x:${a.toString('base64')},y:${b.toString('base64')}`).map((x) => x.id)).toEqual([
      'x',
      'y',
    ]);
    expect(deriveKeyId(b)).toMatch(/^k[0-9a-f]{12}$/);
  });

  it('rejects keys that are not 32 bytes, bad ids, duplicates and an empty ring', () => {
    expect(() => parseBackupKeys(`a:${randomBytes(16).toString('base64')}`)).toThrow(BackupConfigError);
    expect(() => parseBackupKeys('a:not base64!')).toThrow(BackupConfigError);
    expect(() => parseBackupKeys(`bad id:${randomBytes(32).toString('base64')}`)).toThrow(BackupConfigError);
    const k1 = randomBytes(32).toString('base64');
    expect(() => new BackupKeyring(parseBackupKeys(`a:${k1},a:${k1}`))).toThrow(BackupConfigError);
    expect(() => new BackupKeyring([])).toThrow(BackupConfigError);
  });

  it('rotation: the newest key encrypts, older keys still decrypt their files', async () => {
    const old = key('2023');
    const current = key('2024');
    const before = await encrypt(old, Buffer.from('old backup'));
    const ring = new BackupKeyring([old, current]);
    expect(ring.current.id).toBe('2024');
    const after = await encrypt(ring.current, Buffer.from('new backup'));
    expect((await decrypt(ring, before)).toString()).toBe('old backup');
    expect((await decrypt(ring, after)).toString()).toBe('new backup');
  });
});
