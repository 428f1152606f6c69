/**
 * Tenant templates: `schema/templates/<name>.json` (config TENANT_TEMPLATES_DIR) lists the migration
 * sets a tenant schema is built from, in order, and the seeds that fill it. Each set belongs to the
 * subgraph that owns its tables and keeps its own record table inside the tenant schema, so trading
 * and (later) analytics evolve their tenant tables independently.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { PROJECT_ROOT } from '../../../lib/config.js';
import { SEED_NAMES } from './jobs/seeds.js';

/** Template names are file names; nothing that could walk out of the templates folder. */
const TEMPLATE_NAME = /^[a-z][a-z0-9_-]{0,62}$/;
const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

const templateFile = z.object({
  name: z.string().regex(TEMPLATE_NAME),
  description: z.string().optional(),
  migrations: z
    .array(
      z.object({
        owner: z.string().regex(IDENT),
        folder: z.string().min(1),
        table: z.string().regex(IDENT),
      }),
    )
    .min(1),
  seeds: z.array(z.enum(SEED_NAMES)).default([]),
});

/** One subgraph's migrations inside a tenant schema. */
export interface MigrationSet {
  owner: string;
  /** Absolute path of the drizzle migrations folder. */
  folder: string;
  /** Record table of this set, inside the tenant schema. */
  table: string;
}

export interface TenantTemplate {
  name: string;
  description: string | undefined;
  migrations: MigrationSet[];
  seeds: (typeof SEED_NAMES)[number][];
}

/** The template does not exist (or its file is invalid): a permanent fault. */
export class UnknownTemplateError extends Error {
  constructor(
    readonly template: string,
    reason = 'unknown template',
  ) {
    super(`${reason}: ${JSON.stringify(template)}`);
    this.name = 'UnknownTemplateError';
  }
}

/** Reads templates from a folder; every call reads the file again, so a deployed change is seen at once. */
export class TemplateRegistry {
  constructor(private readonly dir: string) {}

  /**
   * Loads and validates a template.
   * @throws UnknownTemplateError when the name is malformed, the file is missing or invalid
   */
  async load(name: string): Promise<TenantTemplate> {
    if (!TEMPLATE_NAME.test(name)) throw new UnknownTemplateError(name);
    let raw: string;
    try {
      raw = await readFile(path.join(this.dir, `${name}.json`), 'utf8');
    } catch {
      throw new UnknownTemplateError(name);
    }
    let parsed;
    try {
      parsed = templateFile.safeParse(JSON.parse(raw));
    } catch {
      throw new UnknownTemplateError(name, 'unreadable template');
    }
    if (!parsed.success || parsed.data.name !== name)
      throw new UnknownTemplateError(name, 'invalid template');
    const t = parsed.data;
    const tables = new Set(t.migrations.map((m) => m.table));
    if (tables.size !== t.migrations.length)
      throw new UnknownTemplateError(name, 'duplicate record table in template');
    return {
      name: t.name,
      description: t.description,
      migrations: t.migrations.map((m) => ({
        owner: m.owner,
        folder: path.isAbsolute(m.folder) ? m.folder : path.join(PROJECT_ROOT, m.folder),
        table: m.table,
      })),
      seeds: t.seeds,
    };
  }

  /** True when `name` loads. */
  async exists(name: string): Promise<boolean> {
    try {
      await this.load(name);
      return true;
    } catch (err) {
      if (err instanceof UnknownTemplateError) return false;
      throw err;
    }
  }
}

const journal = z.object({ entries: z.array(z.object({ tag: z.string() })) });

/** Number of committed migrations of a set (entries of its drizzle journal); 0 when unreadable. */
export async function expectedMigrations(set: MigrationSet): Promise<number> {
  try {
    const raw = await readFile(path.join(set.folder, 'meta', '_journal.json'), 'utf8');
    return journal.parse(JSON.parse(raw)).entries.length;
  } catch {
    return 0;
  }
}

/** `CREATE TABLE [IF NOT EXISTS] ["schema".]"name"` as drizzle-kit writes it (names quoted or bare). */
const CREATE_TABLE =
  /CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:"?[A-Za-z0-9_]+"?\.)?"?([A-Za-z0-9_]+)"?/gi;

/**
 * Every table a template's migrations have ever created (any version, so a backup taken before a
 * later migration still qualifies), plus the migration record tables. A restore accepts only these
 * names from a backup's row counts. Read from the journal's SQL files, in order.
 */
export async function templateTables(template: TenantTemplate): Promise<Set<string>> {
  const tables = new Set<string>();
  for (const set of template.migrations) {
    tables.add(set.table);
    const raw = await readFile(path.join(set.folder, 'meta', '_journal.json'), 'utf8');
    for (const { tag } of journal.parse(JSON.parse(raw)).entries) {
      const sqlText = await readFile(path.join(set.folder, `${tag}.sql`), 'utf8');
      for (const m of sqlText.matchAll(CREATE_TABLE)) if (m[1]) tables.add(m[1]);
    }
  }
  return tables;
}
