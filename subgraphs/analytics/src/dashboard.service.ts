/**
 * Saved dashboards: each belongs to the user who created it, within the caller's tenant; a shared one
 * is readable by every member of the tenant, editable by its owner only. Saves are versioned:
 * create without id; update with id + the version the edit started from; a stale version fails with
 * CONFLICT instead of overwriting someone's newer save.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { withTenant, type TenantScope } from '../../../lib/db.js';
import { badInput, conflict, forbidden, notFound } from '../../../lib/errors.js';
import { DashboardRepository, type DashboardWrite } from './dashboard.repository.js';
import type { DashboardRow } from './db/schema.js';
import type { SaveDashboardInput } from './generated/resolvers-types.js';

/** A dashboard as resolvers return it (the GraphQL `Dashboard` mapper). */
export interface DashboardModel {
  id: string;
  name: string;
  widgets: StoredWidget[];
  version: number;
  shared: boolean;
  ownerUserId: string;
  editable: boolean;
  updatedAt: Date;
}

interface StoredWidget {
  id: string;
  kind: string;
  config: Record<string, unknown>;
  layout: Record<string, unknown>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const KIND = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
/** Bounds that keep one dashboard a small row. */
export const DASHBOARD_LIMITS = { nameLength: 200, widgets: 50, widgetJsonBytes: 16_384 } as const;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function toModel(row: DashboardRow, userId: string): DashboardModel {
  return {
    id: row.id,
    name: row.name,
    widgets: Array.isArray(row.widgets) ? (row.widgets as StoredWidget[]) : [],
    version: row.version,
    shared: row.shared,
    ownerUserId: row.ownerUserId,
    editable: row.ownerUserId === userId,
    updatedAt: row.updatedAt,
  };
}

/** Validates a save and gives every widget a fresh id. */
export function validateDashboard(input: SaveDashboardInput): DashboardWrite {
  const name = input.name.trim();
  if (name.length === 0 || name.length > DASHBOARD_LIMITS.nameLength || /\p{Cc}/u.test(name)) {
    throw badInput(`name must be 1 to ${DASHBOARD_LIMITS.nameLength} printable characters`, {
      field: 'name',
    });
  }
  if (input.widgets.length > DASHBOARD_LIMITS.widgets) {
    throw badInput(`at most ${DASHBOARD_LIMITS.widgets} widgets`, { field: 'widgets' });
  }
  const widgets = input.widgets.map((w, i): StoredWidget => {
    if (!KIND.test(w.kind))
      throw badInput('widget kind must be letters, digits, - or _', { field: `widgets.${i}.kind` });
    if (!isObject(w.config))
      throw badInput('widget config must be a JSON object', { field: `widgets.${i}.config` });
    if (!isObject(w.layout))
      throw badInput('widget layout must be a JSON object', { field: `widgets.${i}.layout` });
    if (JSON.stringify([w.config, w.layout]).length > DASHBOARD_LIMITS.widgetJsonBytes) {
      throw badInput('widget config and layout are too large', { field: `widgets.${i}` });
    }
    return { id: randomUUID(), kind: w.kind, config: w.config, layout: w.layout };
  });
  return { name, widgets, shared: input.shared ?? undefined };
}

export class DashboardService {
  constructor(private readonly pool: pg.Pool) {}

  /** The caller's dashboards and the tenant's shared ones. */
  async list(scope: TenantScope & { userId: string }): Promise<DashboardModel[]> {
    return withTenant(this.pool, scope, async (tx) =>
      (await new DashboardRepository(tx).visibleTo(scope.userId)).map((r) => toModel(r, scope.userId)),
    );
  }

  /** Creates (no id) or updates (id + version) one of the caller's dashboards. */
  async save(scope: TenantScope & { userId: string }, input: SaveDashboardInput): Promise<DashboardModel> {
    const write = validateDashboard(input);
    const id = input.id ?? null;
    if (id === null) {
      return withTenant(this.pool, scope, async (tx) =>
        toModel(await new DashboardRepository(tx).insert(scope.userId, write), scope.userId),
      );
    }
    if (!UUID.test(id)) throw notFound('Dashboard');
    // Only an absent version is missing; any other version that is not the current one (0, stale,
    // from the future) matches no row below and is answered CONFLICT.
    const version = input.version ?? null;
    if (version === null) throw badInput('version is required to update a dashboard', { field: 'version' });
    return withTenant(this.pool, scope, async (tx) => {
      const repo = new DashboardRepository(tx);
      const updated = await repo.update(id, scope.userId, version, write);
      if (updated) return toModel(updated, scope.userId);
      // Nothing matched: say why, without revealing private dashboards of others.
      const current = await repo.find(id);
      if (!current || (current.ownerUserId !== scope.userId && !current.shared)) throw notFound('Dashboard');
      if (current.ownerUserId !== scope.userId) throw forbidden('Only the owner can edit this dashboard');
      throw conflict(`Dashboard was changed by another save (current version ${current.version})`);
    });
  }

  /** Deletes one of the caller's dashboards. */
  async delete(scope: TenantScope & { userId: string }, id: string): Promise<boolean> {
    if (!UUID.test(id)) return false;
    return withTenant(this.pool, scope, async (tx) => {
      const repo = new DashboardRepository(tx);
      if (await repo.delete(id, scope.userId)) return true;
      const current = await repo.find(id);
      if (current?.shared) throw forbidden('Only the owner can delete this dashboard');
      return false;
    });
  }
}
