/**
 * Errors of the backup pipeline. A {@link PermanentBackupError} is a fault that retrying cannot fix
 * (a wrong host key, a missing key, a corrupted file): the jobs turn it into BullMQ's
 * `UnrecoverableError`, so it fails at once with a clear message instead of burning its retries.
 * Everything else (connection refused or cut, Postgres busy, a lock timeout) is retried with backoff.
 */

/** A fault that retrying cannot fix. */
export class PermanentBackupError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PermanentBackupError';
  }
}

/** The MA130 presented a host key other than the pinned one (possible man in the middle). */
export class HostKeyMismatchError extends PermanentBackupError {
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`MA130 host key mismatch: expected ${expected}, got ${actual}; refusing to connect`);
    this.name = 'HostKeyMismatchError';
  }
}

/** Configuration missing or invalid (no pinned host key, unreadable private key, no encryption key). */
export class BackupConfigError extends PermanentBackupError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'BackupConfigError';
  }
}

/** Why a backup file was rejected. */
export type IntegrityReason =
  | 'bad-header'
  | 'unknown-key'
  | 'auth-failed'
  | 'truncated'
  | 'trailing-data'
  | 'chunk-too-large'
  | 'sha256-mismatch'
  | 'size-mismatch'
  | 'manifest-mismatch'
  | 'bad-table';

/** A backup file is corrupted, truncated, or encrypted with a key we do not have. */
export class BackupIntegrityError extends PermanentBackupError {
  constructor(
    readonly reason: IntegrityReason,
    message: string,
  ) {
    super(message);
    this.name = 'BackupIntegrityError';
  }
}

/** True when retrying cannot help (see {@link PermanentBackupError}). */
export function isPermanentBackupError(err: unknown): err is PermanentBackupError {
  return err instanceof PermanentBackupError;
}
