import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BackupKeyring } from '../../src/backup/backup-crypto.js';
import {
  canonicalJson,
  checkedRowCounts,
  readManifest,
  signManifest,
  type UnsignedManifest,
} from '../../src/backup/backup-manifest.js';

const oldKey = { id: 'old', key: randomBytes(32) };
const newKey = { id: 'new', key: randomBytes(32) };
const ring = new BackupKeyring([oldKey, newKey]);

const unsigned: UnsignedManifest = {
  format: 'tradesage-tenant-backup',
  backupId: '00000000-0000-4000-8000-000000000001',
  tenantId: '00000000-0000-4000-8000-000000000002',
  schema: 't_0000000000000002',
  type: 'MANUAL',
  createdAt: '2026-12-06T02:30:00.000Z',
  completedAt: '2026-12-06T02:31:00.000Z',
  file: 'backup.sql.gz.enc',
  sha256: 'ab'.repeat(32),
  sizeBytes: 1234,
  dumpBytes: 5000,
  gzipBytes: 1200,
  gzipLevel: 9,
  encryption: { algorithm: 'AES-256-GCM', format: 'TSBK/1', keyId: 'new', chunkBytes: 1048576 },
  pgDumpVersion: 'pg_dump (PostgreSQL) 15.8',
  serverVersion: '15.8',
  rowCounts: { accounts: 1, cash_ledger: 2 },
};

const bytes = (v: unknown): Buffer => Buffer.from(JSON.stringify(v, null, 2));

describe('canonicalJson', () => {
  it('sorts keys at every level and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: null }], c: undefined } })).toBe(
      '{"a":{"d":[2,{"e":null,"f":1}]},"b":1}',
    );
  });
});

describe('signManifest / readManifest', () => {
  it('round-trips, whatever the key order or layout of the file, with the signing key or an older one', () => {
    const signed = signManifest(unsigned, newKey);
    expect(signed).toMatchObject({ formatVersion: 2, mac: { algorithm: 'HMAC-SHA256', keyId: 'new' } });
    const reordered = Object.fromEntries(Object.entries(signed).reverse());
    expect(readManifest(bytes(reordered), ring)).toMatchObject({ authenticated: true, manifest: signed });
    const byOld = signManifest(unsigned, oldKey);
    expect(readManifest(bytes(byOld), ring).authenticated).toBe(true);
  });

  it('refuses any changed field, an added field, a stripped or foreign MAC', () => {
    const signed = signManifest(unsigned, newKey);
    const refused = (v: unknown, reason = 'manifest-mismatch'): void => {
      expect(() => readManifest(bytes(v), ring)).toThrow(expect.objectContaining({ reason }) as Error);
    };
    refused({ ...signed, rowCounts: { ...signed.rowCounts, accounts: 2 } });
    refused({ ...signed, sha256: 'cd'.repeat(32) });
    refused({ ...signed, extra: 'field' });
    refused({ ...signed, mac: undefined });
    refused({ ...signed, mac: { ...signed.mac, value: 'zz' } });
    refused({ ...signed, mac: { ...signed.mac, keyId: 'gone' } }, 'unknown-key');
    const otherKey = { id: 'new', key: randomBytes(32) };
    refused(signManifest(unsigned, otherKey));
    expect(() => readManifest(Buffer.from('not json'), ring)).toThrow(/not JSON/);
    refused({ ...signed, rowCounts: { accounts: -1 } });
  });

  it('reads a version 1 manifest (no MAC) as unauthenticated', () => {
    const v1 = { ...unsigned, formatVersion: 1 };
    expect(readManifest(bytes(v1), ring)).toMatchObject({ authenticated: false });
  });
});

describe('checkedRowCounts', () => {
  const allowed = new Set(['accounts', 'cash_ledger', '__migrations_trading']);
  it('keeps template tables with counts', () => {
    expect(checkedRowCounts({ accounts: 3, __migrations_trading: 6 }, allowed)).toEqual({
      accounts: 3,
      __migrations_trading: 6,
    });
  });
  it('refuses names outside the template or not plain identifiers, and non-counts', () => {
    const badTable = expect.objectContaining({ reason: 'bad-table' }) as Error;
    expect(() => checkedRowCounts({ orders: 1 }, allowed)).toThrow(badTable);
    // Not plain identifiers: refused even if a template listed them.
    for (const name of ['Accounts', 'accounts"; DROP TABLE x; --', 'pg_catalog.pg_authid', '']) {
      expect(() => checkedRowCounts({ [name]: 1 }, new Set([...allowed, name]))).toThrow(badTable);
    }
    expect(() => checkedRowCounts({ accounts: 1.5 }, allowed)).toThrow(/not a count/);
  });
});
