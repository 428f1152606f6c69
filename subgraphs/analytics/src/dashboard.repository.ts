/**
 * SQL of saved dashboards (tenant schema, inside withTenant). Updates are optimistic: `UPDATE ...
 * WHERE id = $id AND owner_user_id = $user AND version = $v`, so of two concurrent saves from the
 * same version exactly one matches and the other finds nothing to update.
 */
import { and, desc, eq, or, sql } from 'drizzle-orm';
import type { Db } from '../../../lib/db.js';
import { dashboards, type DashboardRow } from './db/schema.js';

export interface DashboardWrite {
  name: string;
  widgets: unknown[];
  shared: boolean | undefined;
}

export class DashboardRepository {
  constructor(private readonly tx: Db) {}

  /** The user's dashboards and the tenant's shared ones, most recently updated first. */
  async visibleTo(userId: string): Promise<DashboardRow[]> {
    return this.tx
      .select()
      .from(dashboards)
      .where(or(eq(dashboards.ownerUserId, userId), eq(dashboards.shared, true)))
      .orderBy(desc(dashboards.updatedAt), desc(dashboards.id));
  }

  async find(id: string): Promise<DashboardRow | undefined> {
    const rows = await this.tx.select().from(dashboards).where(eq(dashboards.id, id));
    return rows[0];
  }

  async insert(ownerUserId: string, w: DashboardWrite): Promise<DashboardRow> {
    const rows = await this.tx
      .insert(dashboards)
      .values({ ownerUserId, name: w.name, widgets: w.widgets, shared: w.shared ?? false })
      .returning();
    const row = rows[0];
    if (!row) throw new Error('insert returned no row');
    return row;
  }

  /** Updates when the row is the owner's and still at `version`; undefined otherwise. */
  async update(
    id: string,
    ownerUserId: string,
    version: number,
    w: DashboardWrite,
  ): Promise<DashboardRow | undefined> {
    const rows = await this.tx
      .update(dashboards)
      .set({
        name: w.name,
        widgets: w.widgets,
        ...(w.shared === undefined ? {} : { shared: w.shared }),
        version: sql`${dashboards.version} + 1`,
        updatedAt: sql`now()`,
      })
      .where(
        and(eq(dashboards.id, id), eq(dashboards.ownerUserId, ownerUserId), eq(dashboards.version, version)),
      )
      .returning();
    return rows[0];
  }

  async delete(id: string, ownerUserId: string): Promise<boolean> {
    const rows = await this.tx
      .delete(dashboards)
      .where(and(eq(dashboards.id, id), eq(dashboards.ownerUserId, ownerUserId)))
      .returning({ id: dashboards.id });
    return rows.length > 0;
  }
}
