/**
 * Data ownership (docs/adr/0002-analytics-reads-trading-views.md): analytics' SQL names its own
 * tables, trading's read contract (`trading_<name>_v<N>` views, published by trading's tenant
 * migrations) and nothing else of trading's; the few platform relations of other subgraphs it still
 * reads are listed here by name, so a new one fails this test until it is decided on.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { getTableName, is } from 'drizzle-orm';
import { PgTable } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import * as analyticsTables from '../src/db/schema.js';

const SRC = path.join(import.meta.dirname, '../src');
const TRADING_MIGRATIONS = path.join(import.meta.dirname, '../../trading/migrations/tenant');
const CONTRACT_VIEW = /^trading_[a-z_]+_v\d+$/;
/** Other owners' platform relations read today (the ADR's "not yet behind a contract"). */
const PENDING = new Set(['market.bars_1d', 'market.instruments', 'tenancy.tenants']);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const file = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'generated' ? [] : sources(file);
    return e.name.endsWith('.ts') ? [file] : [];
  });
}

/** Relations named after FROM / JOIN / INTO / UPDATE in SQL text (`extract(epoch FROM x)` excepted). */
function relationsIn(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(
    /(epoch\s+)?\b(?:FROM|JOIN|INTO|UPDATE)\s+"?([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)?)/g,
  )) {
    if (!m[1] && m[2]) found.push(m[2]);
  }
  return found;
}

describe('analytics data ownership', () => {
  const own = new Set<string>(
    Object.values(analyticsTables)
      .filter((t) => is(t, PgTable))
      .map((t) => getTableName(t)),
  );
  const used = new Map<string, string>();
  for (const file of sources(SRC)) {
    for (const name of relationsIn(readFileSync(file, 'utf8'))) used.set(name, path.relative(SRC, file));
  }

  it('names only its own tables, trading contract views and the listed pending relations', () => {
    const foreign = [...used].filter(
      ([name]) => !own.has(name) && !CONTRACT_VIEW.test(name) && !PENDING.has(name),
    );
    expect(foreign).toEqual([]);
    // The scan sees the SQL at all: a broken pattern would pass the line above vacuously.
    expect([...used.keys()]).toEqual(expect.arrayContaining(['equity_snapshots', 'trading_accounts_v1']));
  });

  it('reads only views that trading migrations create', () => {
    const published = new Set(
      readdirSync(TRADING_MIGRATIONS)
        .filter((f) => f.endsWith('.sql'))
        .flatMap((f) => [
          ...readFileSync(path.join(TRADING_MIGRATIONS, f), 'utf8').matchAll(/CREATE VIEW "?(\w+)"?/g),
        ])
        .map((m) => m[1]),
    );
    const views = [...used.keys()].filter((n) => CONTRACT_VIEW.test(n));
    expect(views.length).toBeGreaterThan(0);
    for (const v of views) expect(published, v).toContain(v);
  });

  it('never writes trading contract views', () => {
    const writes = sources(SRC).flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/\b(?:INTO|UPDATE|DELETE FROM)\s+"?(trading_\w+)/g)].map(
        (m) => m[1],
      ),
    );
    expect(writes).toEqual([]);
  });
});
