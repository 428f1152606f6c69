/**
 * Unit checks of templates and job ids. Tenant template SQL must be unqualified: drizzle-kit writes
 * `REFERENCES "public"."x"` for tables without a schema, which would point every tenant at `public`.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../lib/config.js';
import { PLATFORM_MIGRATIONS } from '../../../schema/platform-migrations.js';
import { parseJobId, provisionJobId } from '../src/jobs/queues.js';
import { validateOrganizationName } from '../src/tenant.service.js';
import { expectedMigrations, TemplateRegistry, UnknownTemplateError } from '../src/template.registry.js';

const registry = new TemplateRegistry(path.join(PROJECT_ROOT, 'schema/templates'));
/** `auth.users`, `"market"."instruments"`, ...: a qualified name in any platform schema. */
const platformSchemas = PLATFORM_MIGRATIONS.map((m) => m.schema).join('|');
const platformReference = new RegExp(
  `(?:"(?:${platformSchemas})"|\\b(?:${platformSchemas}))\\."?[a-z_]`,
  'i',
);

async function templateNames(): Promise<string[]> {
  const files = await readdir(path.join(PROJECT_ROOT, 'schema/templates'));
  return files.filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, ''));
}

describe('tenant templates', () => {
  it('load, and name committed migration folders', async () => {
    const names = await templateNames();
    expect(names).toContain('trading');
    for (const name of names) {
      const t = await registry.load(name);
      for (const set of t.migrations) expect(await expectedMigrations(set), set.folder).toBeGreaterThan(0);
    }
  });

  it('contain only schema-unqualified SQL, so it lands in the tenant schema', async () => {
    let files = 0;
    for (const name of await templateNames()) {
      for (const set of (await registry.load(name)).migrations) {
        for (const file of (await readdir(set.folder)).filter((f) => f.endsWith('.sql'))) {
          const sql = await readFile(path.join(set.folder, file), 'utf8');
          files++;
          expect(sql, `${set.folder}/${file}`).not.toMatch(/"public"\.|\bpublic\./i);
          // Nor a platform schema: a tenant schema stays self-contained, as Citus schema-based sharding
          // needs (docs/adr/0003: its tables are colocated with each other only).
          expect(sql, `${set.folder}/${file}`).not.toMatch(platformReference);
          expect(sql, `${set.folder}/${file}`).not.toMatch(
            /\b(CREATE|DROP|ALTER)\s+SCHEMA\b|\bSET\s+search_path\b/i,
          );
        }
      }
    }
    expect(files).toBeGreaterThan(0);
  });

  it('refuse names that could leave the templates folder', async () => {
    for (const bad of ['../trading', 'Trading', 'a/b', '', 'trading.json']) {
      await expect(registry.load(bad)).rejects.toBeInstanceOf(UnknownTemplateError);
    }
    expect(await registry.exists('no-such-template')).toBe(false);
  });
});

describe('job ids', () => {
  it('parse back to their kind and tenant', () => {
    const id = '0F8FAD5B-D9CB-469F-A165-70867728950E';
    expect(parseJobId(provisionJobId(id))).toEqual({
      kind: 'provision',
      queue: 'tenant-provisioning',
      tenantId: id.toLowerCase(),
    });
    expect(parseJobId('migrate-tenants-1700000000000')).toMatchObject({ kind: 'migrate-tenants' });
    for (const bad of ['provision-x', 'provision-', 'backup-1', '', 'migrate-tenants-../../x'])
      expect(parseJobId(bad)).toBeNull();
  });
});

describe('organization names', () => {
  it('are trimmed and bounded', () => {
    expect(validateOrganizationName('  Acme  ')).toBe('Acme');
    for (const bad of ['', '   ', 'x'.repeat(201), 'a\u0000b'])
      expect(() => validateOrganizationName(bad)).toThrow();
  });
});
