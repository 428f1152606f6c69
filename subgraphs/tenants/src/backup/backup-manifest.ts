/**
 * The manifest beside each backup file, authenticated: HMAC-SHA256 over its canonical JSON (keys
 * sorted, `mac` left out) with a key derived by HKDF from the backup encryption key named in
 * `mac.keyId`. The MA130 is storage, not a trusted party: anyone who can write there could otherwise
 * change row counts or table names that a restore puts into SQL. A restore verifies the MAC before it
 * uses a single field, then checks each table name (identifier pattern, and one of the template's
 * tables) before any SQL is built from it.
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { BackupKey, BackupKeyring } from './backup-crypto.js';
import { BackupIntegrityError } from './backup.errors.js';

/** HKDF `info` of the manifest MAC key: a key used for nothing else than this MAC. */
const MAC_INFO = 'tradesage-backup-manifest-mac/1';
/** Format version of manifests that carry a MAC (version 1 had none). */
export const MANIFEST_FORMAT_VERSION = 2;
/** A table name a restore may put into SQL (lower-case PostgreSQL identifier, no quoting needed). */
const TABLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** The JSON written beside every backup file. */
export interface BackupManifest {
  format: 'tradesage-tenant-backup';
  /** 2 since manifests carry `mac`; 1 for older (unauthenticated) manifests. */
  formatVersion: number;
  backupId: string;
  tenantId: string;
  schema: string;
  type: string | null;
  /** When the backup started (names the file) and finished, ISO-8601. */
  createdAt: string;
  completedAt: string;
  file: string;
  /** sha256 (hex) and size of the encrypted file as stored. */
  sha256: string;
  sizeBytes: number;
  /** Bytes of SQL from pg_dump, and after gzip. */
  dumpBytes: number;
  gzipBytes: number;
  gzipLevel: number;
  encryption: { algorithm: 'AES-256-GCM'; format: 'TSBK/1'; keyId: string; chunkBytes: number };
  pgDumpVersion: string;
  serverVersion: string;
  /** Rows per table, counted in the dump's snapshot. */
  rowCounts: Record<string, number>;
  /** HMAC-SHA256 (hex) of everything else, with the MAC key of backup key `keyId`. */
  mac?: { algorithm: 'HMAC-SHA256'; keyId: string; value: string };
}

/** The manifest before it is signed. */
export type UnsignedManifest = Omit<BackupManifest, 'mac' | 'formatVersion'>;

/** JSON with object keys sorted at every level: the bytes the MAC covers. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function macKey(key: BackupKey): Buffer {
  return Buffer.from(hkdfSync('sha256', key.key, Buffer.alloc(0), MAC_INFO, 32));
}

function macOf(body: Omit<BackupManifest, 'mac'>, key: BackupKey): string {
  return createHmac('sha256', macKey(key)).update(canonicalJson(body)).digest('hex');
}

/** The manifest with its MAC (made with `key`, the key that encrypted the file). */
export function signManifest(unsigned: UnsignedManifest, key: BackupKey): BackupManifest {
  const body = { ...unsigned, formatVersion: MANIFEST_FORMAT_VERSION };
  return { ...body, mac: { algorithm: 'HMAC-SHA256', keyId: key.id, value: macOf(body, key) } };
}

const rowCountsSchema = z.record(z.string(), z.number().int().nonnegative());
const manifestSchema = z.looseObject({
  format: z.literal('tradesage-tenant-backup'),
  formatVersion: z.number().int(),
  backupId: z.string(),
  tenantId: z.string(),
  schema: z.string(),
  sha256: z.string(),
  sizeBytes: z.number().int().nonnegative(),
  rowCounts: rowCountsSchema,
  mac: z.object({ algorithm: z.literal('HMAC-SHA256'), keyId: z.string(), value: z.string() }).optional(),
});

/** A manifest read back: `authenticated` is false only for a version 1 manifest (no MAC at all). */
export interface ReadManifest {
  manifest: BackupManifest;
  authenticated: boolean;
}

const fail = (message: string): never => {
  throw new BackupIntegrityError('manifest-mismatch', message);
};

/**
 * Parses a manifest and verifies its MAC (constant-time compare) before returning anything.
 * @throws BackupIntegrityError unreadable, malformed, unknown MAC key, MAC mismatch, or a version 2
 *   manifest without a MAC (a stripped MAC is a tampered manifest)
 */
export function readManifest(bytes: Buffer, keyring: BackupKeyring): ReadManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch {
    return fail('backup manifest is not JSON');
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) return fail('backup manifest is malformed');
  const { mac, ...body } = parsed.data;
  if (!mac) {
    if (parsed.data.formatVersion >= MANIFEST_FORMAT_VERSION) fail('backup manifest has lost its MAC');
    return { manifest: parsed.data as unknown as BackupManifest, authenticated: false };
  }
  const key = keyring.get(mac.keyId);
  if (!key) {
    throw new BackupIntegrityError('unknown-key', `backup manifest MAC key ${mac.keyId} is not configured`);
  }
  const expected = Buffer.from(macOf(body as unknown as Omit<BackupManifest, 'mac'>, key), 'hex');
  const given = Buffer.from(/^[0-9a-f]{64}$/.test(mac.value) ? mac.value : '', 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    fail('backup manifest MAC does not verify: the manifest was altered');
  }
  return { manifest: parsed.data as unknown as BackupManifest, authenticated: true };
}

/**
 * Row counts whose table names are safe to use in SQL: lower-case identifiers, each one of the
 * template's tables (`allowed`), counts non-negative integers.
 * @throws BackupIntegrityError on the first name or count that is not
 */
export function checkedRowCounts(
  rowCounts: Record<string, unknown>,
  allowed: ReadonlySet<string>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, n] of Object.entries(rowCounts)) {
    if (!TABLE_NAME.test(name) || !allowed.has(name)) {
      throw new BackupIntegrityError(
        'bad-table',
        `backup names a table that is not one of the template's: ${JSON.stringify(name.slice(0, 80))}`,
      );
    }
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
      throw new BackupIntegrityError('bad-table', `backup row count of ${name} is not a count`);
    }
    out[name] = n;
  }
  return out;
}
