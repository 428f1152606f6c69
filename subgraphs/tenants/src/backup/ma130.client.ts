/**
 * The MA130 backup host over SFTP (ssh2, pure JavaScript): key authentication, the host key pinned
 * by its SHA256 fingerprint, and the few file operations backups need, written for throughput
 * (pipelined reads and writes instead of ssh2's one-request-at-a-time streams) and for failure (a
 * dropped connection fails every pending operation at once instead of hanging).
 *
 * Only SFTP is used, never `exec`: the real MA130 account is SFTP-only (`ForceCommand internal-sftp`,
 * see ops/ma130/setup_ma130.sh), so checksums are verified by reading the file back.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Client, type ConnectConfig, type SFTPWrapper, type Stats } from 'ssh2';
import { PROJECT_ROOT } from '../../../../lib/config.js';
import type { TenantsConfig } from '../config.js';
import { BackupConfigError, HostKeyMismatchError, PermanentBackupError } from './backup.errors.js';

/** Where and how to reach the MA130 (from {@link ma130Settings}). */
export interface Ma130Settings {
  host: string;
  port: number;
  username: string;
  /** Absolute path of the private key. */
  privateKeyPath: string;
  /** `SHA256:<base64>`; backups refuse to run without it. */
  hostKeySha256: string | undefined;
  /** Absolute folder under which backups are written. */
  basePath: string;
  connectTimeoutMs: number;
}

/** The MA130 settings of a configuration (relative key paths are from the project root). */
export function ma130Settings(
  config: Pick<
    TenantsConfig,
    | 'MA130_HOST'
    | 'MA130_PORT'
    | 'MA130_USERNAME'
    | 'MA130_KEY_PATH'
    | 'MA130_BACKUP_PATH'
    | 'MA130_HOST_KEY_SHA256'
    | 'MA130_CONNECT_TIMEOUT_MS'
  >,
): Ma130Settings {
  return {
    host: config.MA130_HOST,
    port: config.MA130_PORT,
    username: config.MA130_USERNAME,
    privateKeyPath: path.resolve(PROJECT_ROOT, config.MA130_KEY_PATH),
    hostKeySha256: config.MA130_HOST_KEY_SHA256,
    basePath: config.MA130_BACKUP_PATH.replace(/\/+$/, '') || '/',
    connectTimeoutMs: config.MA130_CONNECT_TIMEOUT_MS,
  };
}

/** A transient connection problem (refused, cut, timed out): retried by the jobs. */
export class Ma130ConnectionError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'Ma130ConnectionError';
  }
}

/** `SHA256:<base64 without padding>` of a raw SSH public key blob. */
export function hostKeyFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

const normalizeFingerprint = (fp: string): string => fp.replace(/=+$/, '');

// SFTP status codes (draft-ietf-secsh-filexfer-02).
const SFTP_EOF = 1;
const SFTP_NO_SUCH_FILE = 2;

function sftpCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * Bytes per SFTP read/write request. Requests of exactly 32 KiB are slow (each then needs a second,
 * tiny SSH packet, as the channel's packets carry at most 32 KiB); 64 KiB minus the request header was
 * fastest on loopback (ssh2 to OpenSSH 9.2; bench/backup-pipeline.ts). OpenSSH accepts
 * up to 255 KiB per request; ssh2 splits larger ones itself for servers with smaller limits.
 */
const PIECE_BYTES = 64 * 1024 - 128;
/**
 * Requests in flight per transfer: enough to hide the round trip (512 KiB window), few enough not to
 * overrun the SSH channel window (a deeper queue measured slower: ssh2 then buffers the excess).
 */
const IN_FLIGHT = 8;

/**
 * An upload to one remote file: writes are pipelined (several requests in flight, positions
 * explicit), and `end()` resolves only after every write was acknowledged, the data was fsync'ed
 * (when the server offers `fsync@openssh.com`) and the handle closed.
 */
class SftpUploadStream extends Writable {
  private position = 0;
  private inFlight = 0;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private handleClosed = false;

  constructor(
    private readonly sftp: SFTPWrapper,
    private readonly handle: Buffer,
    onAbort: Promise<never>,
  ) {
    super({ highWaterMark: 1024 * 1024 });
    onAbort.catch((err: unknown) => {
      this.fail(err as Error);
    });
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private settle(): void {
    const w = this.wake;
    if (w && (this.inFlight <= IN_FLIGHT || this.failure)) {
      this.wake = undefined;
      w();
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.failure) return cb(this.failure);
    try {
      for (let off = 0; off < chunk.length; off += PIECE_BYTES) {
        const len = Math.min(PIECE_BYTES, chunk.length - off);
        const pos = this.position;
        this.position += len;
        this.inFlight++;
        this.sftp.write(this.handle, chunk, off, len, pos, (err) => {
          this.inFlight--;
          if (err) this.fail(err);
          this.settle();
        });
      }
    } catch (err) {
      return cb(err as Error);
    }
    if (this.inFlight <= IN_FLIGHT) return cb();
    this.wake = () => cb(this.failure ?? null);
  }

  override _final(cb: (err?: Error | null) => void): void {
    const drained = (): void => {
      if (this.failure) return cb(this.failure);
      const close = (): void => {
        this.handleClosed = true;
        this.sftp.close(this.handle, (err) => cb(err ?? this.failure ?? null));
      };
      try {
        this.sftp.ext_openssh_fsync(this.handle, (err) => {
          if (err) return cb(err);
          close();
        });
      } catch {
        // The server has no fsync@openssh.com; closing still flushes to the server's page cache.
        close();
      }
    };
    if (this.inFlight === 0) return drained();
    const check = (): void => {
      if (this.inFlight === 0 || this.failure) drained();
      else this.wake = check;
    };
    this.wake = check;
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.handleClosed) {
      this.handleClosed = true;
      try {
        // Best effort, not awaited: the connection may be gone.
        this.sftp.close(this.handle, () => undefined);
      } catch {
        // Session already ended.
      }
    }
    cb(err);
  }
}

/** An open SFTP session to the MA130. Call {@link Ma130Connection.close} when done. */
export class Ma130Connection {
  /** Rejects when the connection drops; every operation races it. */
  private readonly lost: Promise<never>;
  private ended = false;
  private broken = false;

  private constructor(
    private readonly client: Client,
    private readonly sftp: SFTPWrapper,
    readonly settings: Ma130Settings,
  ) {
    this.lost = new Promise<never>((_resolve, reject) => {
      const onLost = (err?: Error): void => {
        this.broken = true;
        if (this.ended) return;
        reject(
          new Ma130ConnectionError(`MA130 connection lost${err ? `: ${err.message}` : ''}`, { cause: err }),
        );
      };
      client.on('error', onLost);
      client.on('close', () => onLost());
      sftp.on('close', () => onLost());
    });
    this.lost.catch(() => undefined);
  }

  /**
   * Connects with key authentication and the pinned host key.
   * @throws BackupConfigError no pinned host key, or the private key is unreadable (permanent)
   * @throws HostKeyMismatchError the server's host key is not the pinned one (permanent)
   * @throws PermanentBackupError the server rejected the key (permanent)
   * @throws Ma130ConnectionError refused, timed out, cut (transient)
   */
  static async connect(
    settings: Ma130Settings,
    extra: Partial<ConnectConfig> = {},
  ): Promise<Ma130Connection> {
    const expected = settings.hostKeySha256;
    if (!expected) {
      throw new BackupConfigError('MA130_HOST_KEY_SHA256 is not set: the MA130 host key must be pinned');
    }
    let privateKey: Buffer;
    try {
      privateKey = await readFile(settings.privateKeyPath);
    } catch (err) {
      throw new BackupConfigError(`MA130 private key ${settings.privateKeyPath} is unreadable`, {
        cause: err,
      });
    }
    const client = new Client();
    let presented: string | undefined;
    let mismatch = false;
    const sftp = await new Promise<SFTPWrapper>((resolve, reject) => {
      let settled = false;
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        client.end();
        if (mismatch) return reject(new HostKeyMismatchError(expected, presented ?? 'unknown'));
        const level = (err as { level?: string }).level;
        if (level === 'client-authentication') {
          return reject(
            new PermanentBackupError(`MA130 rejected the key of user ${settings.username}`, { cause: err }),
          );
        }
        reject(new Ma130ConnectionError(`MA130 connection failed: ${err.message}`, { cause: err }));
      };
      // `on`, not `once`: ssh2 can emit a second error ("Connection lost before handshake") after the
      // first, which would otherwise be an uncaught exception; `fail` settles only once.
      client.on('error', fail);
      client.once('close', () => fail(new Error('connection closed during setup')));
      client.once('ready', () => {
        client.sftp((err, s) => {
          if (err) return fail(err);
          settled = true;
          client.removeListener('error', fail);
          resolve(s);
        });
      });
      try {
        client.connect({
          host: settings.host,
          port: settings.port,
          username: settings.username,
          privateKey,
          readyTimeout: settings.connectTimeoutMs,
          keepaliveInterval: 5_000,
          keepaliveCountMax: 3,
          hostVerifier: (key: Buffer): boolean => {
            presented = hostKeyFingerprint(key);
            mismatch = normalizeFingerprint(presented) !== normalizeFingerprint(expected);
            return !mismatch;
          },
          algorithms: {
            // AES-GCM runs in OpenSSL through node:crypto (no native addon needed) and is the fastest
            // choice on CPUs with AES instructions; the rest are OpenSSH defaults as fallbacks.
            cipher: ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com', 'aes128-ctr', 'aes256-ctr'],
          },
          ...extra,
        });
      } catch (err) {
        fail(err as Error);
      }
    });
    // The 'close' listener above (setup only) would misreport a later close; the connection's own
    // handlers take over.
    client.removeAllListeners('close');
    return new Ma130Connection(client, sftp, settings);
  }

  private call<T>(fn: (cb: (err: Error | null | undefined, value?: T) => void) => void): Promise<T> {
    return Promise.race([
      new Promise<T>((resolve, reject) => {
        try {
          fn((err, value) => (err ? reject(err) : resolve(value as T)));
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      }),
      this.lost,
    ]);
  }

  /** Attributes of a path, or undefined when it does not exist. */
  async stat(remotePath: string): Promise<Stats | undefined> {
    try {
      return await this.call<Stats>((cb) => this.sftp.stat(remotePath, cb));
    } catch (err) {
      if (sftpCode(err) === SFTP_NO_SUCH_FILE) return undefined;
      throw err;
    }
  }

  /** `mkdir -p` (concurrent callers creating the same folder are fine). */
  async mkdirp(dir: string): Promise<void> {
    const parts = dir.split('/').filter(Boolean);
    let current = '';
    for (const part of parts) {
      current += `/${part}`;
      const st = await this.stat(current);
      if (st) {
        if (!st.isDirectory()) throw new PermanentBackupError(`MA130 path ${current} is not a folder`);
        continue;
      }
      try {
        await this.call<void>((cb) => this.sftp.mkdir(current, { mode: 0o750 }, (err) => cb(err)));
      } catch (err) {
        // Someone else created it in between.
        if (!(await this.stat(current))?.isDirectory()) throw err;
      }
    }
  }

  /** A stream writing `remotePath` (created or truncated); see {@link SftpUploadStream}. */
  async createUpload(remotePath: string): Promise<Writable> {
    const handle = await this.call<Buffer>((cb) => this.sftp.open(remotePath, 'w', 0o640, cb));
    return new SftpUploadStream(this.sftp, handle, this.lost);
  }

  /**
   * Reads a whole remote file in order, pipelining the requests, and hands each piece to `sink`
   * (awaited, so a slow sink slows the reads down instead of buffering).
   * @returns the number of bytes read
   */
  async read(remotePath: string, sink: (piece: Buffer) => Promise<void> | void): Promise<number> {
    const handle = await this.call<Buffer>((cb) => this.sftp.open(remotePath, 'r', cb));
    try {
      const size = (await this.call<Stats>((cb) => this.sftp.fstat(handle, cb))).size;
      const readRange = async (pos: number, len: number): Promise<Buffer> => {
        const buf = Buffer.allocUnsafe(len);
        let got = 0;
        while (got < len) {
          let n: number;
          try {
            n = await this.call<number>((cb) =>
              this.sftp.read(handle, buf, got, len - got, pos + got, (err, bytesRead) => cb(err, bytesRead)),
            );
          } catch (err) {
            if (sftpCode(err) === SFTP_EOF) n = 0;
            else throw err;
          }
          if (n === 0) throw new Ma130ConnectionError(`remote file ${remotePath} shrank while being read`);
          got += n;
        }
        return buf;
      };
      const queue: Promise<Buffer>[] = [];
      let next = 0;
      const fill = (): void => {
        while (queue.length < IN_FLIGHT && next < size) {
          const len = Math.min(PIECE_BYTES, size - next);
          const p = readRange(next, len);
          // Awaited in order below; this only keeps a later failure from being "unhandled" meanwhile.
          p.catch(() => undefined);
          queue.push(p);
          next += len;
        }
      };
      fill();
      let total = 0;
      for (let p = queue.shift(); p; p = queue.shift()) {
        const piece = await p;
        total += piece.length;
        await sink(piece);
        fill();
      }
      return total;
    } finally {
      await this.call<void>((cb) => this.sftp.close(handle, (err) => cb(err))).catch(() => undefined);
    }
  }

  /** sha256 (hex) and size of a remote file, by reading it back. */
  async sha256(remotePath: string): Promise<{ sha256: string; size: number }> {
    const hash = createHash('sha256');
    const size = await this.read(remotePath, (piece) => {
      hash.update(piece);
    });
    return { sha256: hash.digest('hex'), size };
  }

  /** A small file, whole. */
  async readSmall(remotePath: string, maxBytes = 1024 * 1024): Promise<Buffer> {
    const pieces: Buffer[] = [];
    let total = 0;
    await this.read(remotePath, (piece) => {
      total += piece.length;
      if (total > maxBytes) throw new PermanentBackupError(`${remotePath} is larger than ${maxBytes} bytes`);
      pieces.push(piece);
    });
    return Buffer.concat(pieces, total);
  }

  /**
   * Renames atomically, replacing `to` if it exists (`posix-rename@openssh.com`; plain SFTP rename,
   * which refuses to replace, when the server lacks the extension).
   */
  async rename(from: string, to: string): Promise<void> {
    await this.call<void>((cb) => {
      try {
        this.sftp.ext_openssh_rename(from, to, (err) => cb(err));
      } catch {
        this.sftp.rename(from, to, (err) => cb(err));
      }
    });
  }

  /** Writes a small file under a temporary name, then renames it into place. */
  async writeAtomic(remotePath: string, data: Buffer): Promise<void> {
    const part = `${remotePath}.part`;
    const upload = await this.createUpload(part);
    await new Promise<void>((resolve, reject) => {
      upload.once('error', reject);
      upload.end(data, () => resolve());
    });
    await this.rename(part, remotePath);
  }

  /** Deletes a file; a missing file is not an error. @returns whether it existed */
  async unlink(remotePath: string): Promise<boolean> {
    try {
      await this.call<void>((cb) => this.sftp.unlink(remotePath, (err) => cb(err)));
      return true;
    } catch (err) {
      if (sftpCode(err) === SFTP_NO_SUCH_FILE) return false;
      throw err;
    }
  }

  /** Removes an empty folder; not an error when it is missing or not empty. */
  async rmdirIfEmpty(remotePath: string): Promise<void> {
    await this.call<void>((cb) => this.sftp.rmdir(remotePath, (err) => cb(err))).catch(() => undefined);
  }

  /** Names in a folder (empty when the folder is missing). */
  async list(dir: string): Promise<{ name: string; size: number; mtime: number; isDirectory: boolean }[]> {
    try {
      const entries = await this.call<{ filename: string; attrs: Stats }[]>((cb) =>
        this.sftp.readdir(dir, cb),
      );
      return entries.map((e) => ({
        name: e.filename,
        size: e.attrs.size,
        mtime: e.attrs.mtime,
        isDirectory: e.attrs.isDirectory(),
      }));
    } catch (err) {
      if (sftpCode(err) === SFTP_NO_SUCH_FILE) return [];
      throw err;
    }
  }

  /** True while the session is usable (not closed, not lost). */
  get isOpen(): boolean {
    return !this.ended && !this.broken;
  }

  /** Ends the session. */
  close(): void {
    this.ended = true;
    this.client.end();
  }
}

/**
 * Keeps a few idle MA130 sessions for reuse: the SSH handshake costs about as much as a small
 * tenant's whole backup, and a nightly run makes hundreds. A session that failed in use is closed,
 * never returned; one that died while idle is skipped; idle ones close after `idleMs`.
 */
export class Ma130ConnectionPool {
  private idle: { conn: Ma130Connection; since: number }[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly settings: Ma130Settings,
    private readonly maxIdle = 4,
    private readonly idleMs = 30_000,
  ) {
    this.timer = setInterval(() => this.reap(), Math.max(1000, idleMs / 2));
    this.timer.unref();
  }

  private reap(): void {
    const now = Date.now();
    this.idle = this.idle.filter(({ conn, since }) => {
      const keep = conn.isOpen && now - since < this.idleMs;
      if (!keep) conn.close();
      return keep;
    });
  }

  /** Runs `fn` with a session (reused or new); see the class comment. */
  async use<T>(fn: (conn: Ma130Connection) => Promise<T>): Promise<T> {
    let conn: Ma130Connection | undefined;
    while (!conn && this.idle.length > 0) {
      const candidate = this.idle.pop()?.conn;
      if (candidate?.isOpen) conn = candidate;
      else candidate?.close();
    }
    conn ??= await Ma130Connection.connect(this.settings);
    let result: T;
    try {
      result = await fn(conn);
    } catch (err) {
      conn.close();
      throw err;
    }
    if (conn.isOpen && this.idle.length < this.maxIdle) this.idle.push({ conn, since: Date.now() });
    else conn.close();
    return result;
  }

  /** Closes the idle sessions (sessions in use close when their work ends). */
  close(): void {
    clearInterval(this.timer);
    for (const { conn } of this.idle.splice(0)) conn.close();
  }
}
