/**
 * The tenants whose orders may rest: the execution engine rebuilds its in-memory index at start by
 * reading the open orders of exactly these tenants. Tenancy tables belong to the tenants subgraph, so
 * instead of reading them (or scanning every tenant), trading keeps its own directory in its platform
 * schema (`trading.order_book_tenants`), written before a tenant's first order is placed. A tenant
 * listed without open orders costs one cheap query at start; a tenant with an order is always listed.
 */
import type pg from 'pg';
import { withPlatform, type TenantScope } from '../../../lib/db.js';
import { orderBookTenants } from './db/schema.js';

const SYSTEM = { kind: 'system' } as const;

export class OrderBookRegistry {
  /** Tenants known to be listed (a listing is never removed, so this cache cannot go stale). */
  private readonly known = new Set<string>();

  constructor(private readonly pool: pg.Pool) {}

  /** Lists the tenant (once per process; idempotent in the database). */
  async ensure(scope: TenantScope): Promise<void> {
    if (this.known.has(scope.tenantId)) return;
    await withPlatform(this.pool, SYSTEM, (tx) =>
      tx
        .insert(orderBookTenants)
        .values({ tenantId: scope.tenantId, schemaName: scope.schemaName })
        .onConflictDoNothing(),
    );
    this.known.add(scope.tenantId);
  }

  /** Every listed tenant. */
  async list(): Promise<TenantScope[]> {
    const rows = await withPlatform(this.pool, SYSTEM, (tx) => tx.select().from(orderBookTenants));
    for (const r of rows) this.known.add(r.tenantId);
    return rows.map((r) => ({ tenantId: r.tenantId, schemaName: r.schemaName }));
  }
}
