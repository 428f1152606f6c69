/**
 * Backup encryption: AES-256-GCM in a chunked stream format, so a file of any size is encrypted and
 * decrypted in constant memory, every chunk is authenticated before any of its bytes are released,
 * and truncation, reordering, splicing and trailing garbage are all detected.
 * The `TSBK` format and key rotation: see {@link EncryptStream}.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { PROJECT_ROOT } from '../../../../lib/config.js';
import type { TenantsConfig } from '../config.js';
import { BackupConfigError, BackupIntegrityError } from './backup.errors.js';

const MAGIC = Buffer.from('TSBK', 'latin1');
const VERSION = 1;
const ALG_AES_256_GCM = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const FINAL_FLAG = 0x8000_0000;
/** Default plaintext bytes per chunk: large enough to be cheap, small enough to bound memory. */
export const DEFAULT_CHUNK_BYTES = 1024 * 1024;
/** The largest chunk a reader accepts, whatever the header claims (bounds a reader's memory). */
const MAX_CHUNK_BYTES = 16 * 1024 * 1024;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** One encryption key. */
export interface BackupKey {
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

/** The configured keys: the last (newest) encrypts, all decrypt. */
export class BackupKeyring {
  private readonly byId: Map<string, BackupKey>;

  constructor(readonly keys: readonly BackupKey[]) {
    if (keys.length === 0) throw new BackupConfigError('no backup encryption key configured');
    this.byId = new Map(keys.map((k) => [k.id, k]));
    if (this.byId.size !== keys.length) throw new BackupConfigError('duplicate backup key id');
  }

  /** The key new backups are encrypted with. */
  get current(): BackupKey {
    return this.keys[this.keys.length - 1] as BackupKey;
  }

  /** The key with this id, if configured. */
  get(id: string): BackupKey | undefined {
    return this.byId.get(id);
  }
}

/** Id of a key given without one: derived from the key, so it is stable and reveals nothing usable. */
export function deriveKeyId(key: Buffer): string {
  return `k${createHash('sha256').update('tradesage-backup-key-id\0').update(key).digest('hex').slice(0, 12)}`;
}

/**
 * Parses keys: entries separated by commas or new lines, each `id:base64` or bare base64 (32 bytes);
 * blank lines and `#` comments are ignored. Order is kept (oldest first).
 */
export function parseBackupKeys(text: string): BackupKey[] {
  const out: BackupKey[] = [];
  for (const raw of text.split(/[\n,]/)) {
    const entry = raw.replace(/#.*$/, '').trim();
    if (!entry) continue;
    const colon = entry.indexOf(':');
    const id = colon >= 0 ? entry.slice(0, colon).trim() : undefined;
    const b64 = colon >= 0 ? entry.slice(colon + 1).trim() : entry;
    const key = Buffer.from(b64, 'base64');
    if (key.length !== 32 || key.toString('base64').replace(/=+$/, '') !== b64.replace(/=+$/, '')) {
      throw new BackupConfigError(
        `backup key ${id ? JSON.stringify(id) : `#${out.length + 1}`} is not 32 bytes of base64`,
      );
    }
    if (id !== undefined && !KEY_ID.test(id)) {
      throw new BackupConfigError(`backup key id ${JSON.stringify(id)} must match ${String(KEY_ID)}`);
    }
    out.push({ id: id ?? deriveKeyId(key), key });
  }
  return out;
}

/**
 * The keyring of the configuration: `BACKUP_ENCRYPTION_KEYS` when set, else the file
 * `BACKUP_KEY_PATH` (relative to the project root).
 */
export async function loadBackupKeyring(
  config: Pick<TenantsConfig, 'BACKUP_ENCRYPTION_KEYS' | 'BACKUP_KEY_PATH'>,
): Promise<BackupKeyring> {
  if (config.BACKUP_ENCRYPTION_KEYS) return new BackupKeyring(parseBackupKeys(config.BACKUP_ENCRYPTION_KEYS));
  const file = path.resolve(PROJECT_ROOT, config.BACKUP_KEY_PATH);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new BackupConfigError(`backup key file ${file} is unreadable (run make setup)`, { cause: err });
  }
  return new BackupKeyring(parseBackupKeys(text));
}

function chunkNonce(base: Buffer, index: number): Buffer {
  const nonce = Buffer.from(base);
  // index < 2^32, so only the low 4 bytes of the u64 counter are ever non-zero.
  nonce.writeUInt32BE((nonce.readUInt32BE(8) ^ index) >>> 0, 8);
  return nonce;
}

function header(keyId: string, baseNonce: Buffer, chunkBytes: number): Buffer {
  const id = Buffer.from(keyId, 'latin1');
  const out = Buffer.alloc(4 + 3 + id.length + NONCE_BYTES + 4);
  MAGIC.copy(out, 0);
  out[4] = VERSION;
  out[5] = ALG_AES_256_GCM;
  out[6] = id.length;
  id.copy(out, 7);
  baseNonce.copy(out, 7 + id.length);
  out.writeUInt32BE(chunkBytes, 7 + id.length + NONCE_BYTES);
  return out;
}

/**
 * Encrypts a stream into the `TSBK` format with `key`. Format `TSBK` version 1 (all integers
 * big-endian):
 *
 * ```
 * header  "TSBK" | u8 version = 1 | u8 algorithm = 1 (AES-256-GCM) | u8 key id length L (1..64)
 *         | key id (L ASCII bytes) | base nonce (12 random bytes) | u32 max chunk plaintext bytes
 * chunk*  u32 (bit 31: final flag, bits 0..30: plaintext length n) | n bytes ciphertext | 16 bytes tag
 * ```
 *
 * Chunk i (from 0) uses the nonce `base nonce XOR i` (i as a u64 in the last 8 bytes) and the
 * additional authenticated data `header || u8 final`. So a chunk moved to another position fails
 * (wrong nonce), a chunk from another file fails (other base nonce and header), a final flag flipped
 * to cut the file short fails (AAD), and a file that ends without a final chunk is truncated. The last
 * chunk is always flagged final (it may be empty); nothing may follow it. A fresh random base nonce per
 * file keeps (key, nonce) pairs unique; with 2^32 chunks per file at most, the counter cannot wrap.
 *
 * Keys: 32 bytes each, with an id recorded in the header so keys can rotate: the newest key
 * encrypts, every configured key decrypts.
 */
export class EncryptStream extends Transform {
  private readonly header: Buffer;
  private readonly baseNonce = randomBytes(NONCE_BYTES);
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private index = 0;

  constructor(
    private readonly key: BackupKey,
    private readonly chunkBytes = DEFAULT_CHUNK_BYTES,
  ) {
    super();
    if (key.key.length !== 32) throw new BackupConfigError('backup key must be 32 bytes');
    if (!KEY_ID.test(key.id)) throw new BackupConfigError('invalid backup key id');
    if (chunkBytes < 1 || chunkBytes > MAX_CHUNK_BYTES) throw new RangeError('chunk size out of range');
    this.header = header(key.id, this.baseNonce, chunkBytes);
    this.push(this.header);
  }

  private seal(plain: Buffer, final: boolean): void {
    if (this.index >= 0xffff_ffff) throw new Error('backup too large for one file');
    const cipher = createCipheriv('aes-256-gcm', this.key.key, chunkNonce(this.baseNonce, this.index));
    cipher.setAAD(Buffer.concat([this.header, Buffer.from([final ? 1 : 0])]));
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE((plain.length | (final ? FINAL_FLAG : 0)) >>> 0);
    this.push(len);
    this.push(body);
    this.push(cipher.getAuthTag());
    this.index++;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes < this.chunkBytes) return cb();
      let all = Buffer.concat(this.pending, this.pendingBytes);
      // Full chunks go out now; the rest waits. Whatever remains at the end (possibly nothing) is
      // sealed as the final chunk in _flush.
      while (all.length >= this.chunkBytes) {
        this.seal(all.subarray(0, this.chunkBytes), false);
        all = all.subarray(this.chunkBytes);
      }
      this.pending = all.length > 0 ? [Buffer.from(all)] : [];
      this.pendingBytes = all.length;
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      this.seal(Buffer.concat(this.pending, this.pendingBytes), true);
      this.pending = [];
      this.pendingBytes = 0;
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }
}

/** What a decryptor learnt from a file's header. */
export interface BackupFileHeader {
  version: number;
  keyId: string;
  chunkBytes: number;
}

/**
 * Decrypts the `TSBK` format. Emits a chunk's plaintext only after its tag verified; fails with a
 * {@link BackupIntegrityError} on any tampering, truncation, trailing data or unknown key.
 */
export class DecryptStream extends Transform {
  /** Unread input, kept as a list so a chunk arriving in many pieces is copied once. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private headerBytes: Buffer | undefined;
  private baseNonce: Buffer | undefined;
  private key: BackupKey | undefined;
  private index = 0;
  private done = false;
  /** Set once the header is read. */
  info: BackupFileHeader | undefined;

  constructor(private readonly keyring: BackupKeyring) {
    super();
  }

  /** The first `n` unread bytes (n <= pendingBytes), without consuming them. */
  private peek(n: number): Buffer {
    const first = this.pending[0] as Buffer;
    if (first.length >= n) return first.subarray(0, n);
    const all = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [all];
    return all.subarray(0, n);
  }

  private consume(n: number): void {
    const all = this.peek(n);
    const head = this.pending[0] as Buffer;
    this.pending[0] = head.subarray(all.length);
    if (this.pending[0]?.length === 0) this.pending.shift();
    this.pendingBytes -= n;
  }

  private readHeader(): boolean {
    if (this.pendingBytes < 7) return false;
    const fixed = this.peek(7);
    if (!fixed.subarray(0, 4).equals(MAGIC)) {
      throw new BackupIntegrityError('bad-header', 'not a TradeSage backup file');
    }
    if (fixed[4] !== VERSION || fixed[5] !== ALG_AES_256_GCM) {
      throw new BackupIntegrityError('bad-header', 'unsupported backup file version or algorithm');
    }
    const idLen = fixed[6] ?? 0;
    if (idLen < 1 || idLen > 64) throw new BackupIntegrityError('bad-header', 'bad key id in backup header');
    const total = 7 + idLen + NONCE_BYTES + 4;
    if (this.pendingBytes < total) return false;
    const h = Buffer.from(this.peek(total));
    const keyId = h.subarray(7, 7 + idLen).toString('latin1');
    const key = this.keyring.get(keyId);
    if (!key) {
      throw new BackupIntegrityError(
        'unknown-key',
        `backup encrypted with unknown key ${JSON.stringify(keyId)}`,
      );
    }
    const chunkBytes = h.readUInt32BE(7 + idLen + NONCE_BYTES);
    if (chunkBytes < 1 || chunkBytes > MAX_CHUNK_BYTES) {
      throw new BackupIntegrityError('bad-header', 'bad chunk size in backup header');
    }
    this.headerBytes = h;
    this.baseNonce = h.subarray(7 + idLen, 7 + idLen + NONCE_BYTES);
    this.key = key;
    this.info = { version: VERSION, keyId, chunkBytes };
    this.consume(total);
    return true;
  }

  private readChunks(): void {
    const info = this.info as BackupFileHeader;
    while (this.pendingBytes >= 4) {
      if (this.done) {
        throw new BackupIntegrityError('trailing-data', 'data after the final chunk of the backup');
      }
      const word = this.peek(4).readUInt32BE(0);
      const final = (word & FINAL_FLAG) !== 0;
      const n = (word & ~FINAL_FLAG) >>> 0;
      if (n > info.chunkBytes) {
        throw new BackupIntegrityError('chunk-too-large', 'backup chunk larger than its header allows');
      }
      if (this.pendingBytes < 4 + n + TAG_BYTES) return;
      const unit = this.peek(4 + n + TAG_BYTES);
      const decipher = createDecipheriv(
        'aes-256-gcm',
        (this.key as BackupKey).key,
        chunkNonce(this.baseNonce as Buffer, this.index),
      );
      decipher.setAAD(Buffer.concat([this.headerBytes as Buffer, Buffer.from([final ? 1 : 0])]));
      decipher.setAuthTag(unit.subarray(4 + n));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(unit.subarray(4, 4 + n)), decipher.final()]);
      } catch {
        throw new BackupIntegrityError(
          'auth-failed',
          `backup chunk ${this.index} failed authentication (corrupted, reordered or wrong key)`,
        );
      }
      this.consume(4 + n + TAG_BYTES);
      this.index++;
      if (final) this.done = true;
      if (plain.length > 0) this.push(plain);
    }
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      if (chunk.length > 0) {
        this.pending.push(chunk);
        this.pendingBytes += chunk.length;
      }
      if (!this.headerBytes && !this.readHeader()) return cb();
      this.readChunks();
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    if (!this.headerBytes) {
      return cb(new BackupIntegrityError('truncated', 'backup file ends inside its header'));
    }
    if (this.pendingBytes > 0 && this.done) {
      return cb(new BackupIntegrityError('trailing-data', 'data after the final chunk of the backup'));
    }
    if (!this.done)
      return cb(new BackupIntegrityError('truncated', 'backup file is truncated (no final chunk)'));
    cb();
  }
}
