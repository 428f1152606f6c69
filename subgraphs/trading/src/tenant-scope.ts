/**
 * The caller's tenant and the one door to its data. Tenant data is reached only through lib/db
 * withTenant (SET LOCAL ROLE + search_path in one transaction); the scope comes from the verified
 * access token (`tid`), never from arguments, so a caller can only ever name objects of its own tenant.
 */
import type pg from 'pg';
import type { AuthClaims, Role } from '../../../lib/auth.js';
import { requireAuth, requireRole, type RequestContext } from '../../../lib/context.js';
import {
  tenantSchemaName,
  withTenant,
  withTenantRoundTrips,
  type PoolClient,
  type TenantScope,
} from '../../../lib/db.js';
import { AppError, ErrorCode } from '../../../lib/errors.js';
import type { TenantGate } from './tenant-gate.js';
import { TradingRepository } from './trading.repository.js';

/**
 * The pool tenant transactions run on, and the gate that bounds each tenant's share of it (every
 * tenant transaction of trading goes through {@link inTenant} or {@link inTenantRoundTrips}).
 */
export interface TenantDb {
  pool: pg.Pool;
  gate: TenantGate;
}

/** Who is calling, and the tenant scope their token grants. */
export interface Caller {
  auth: AuthClaims;
  scope: TenantScope & { userId: string };
}

/** Roles that may place, cancel and replace orders. */
export const TRADER_ROLES: readonly Role[] = ['OWNER', 'ADMIN', 'TRADER'];
/** Roles that may manage cash, limits and the trading state. */
export const MANAGER_ROLES: readonly Role[] = ['OWNER', 'ADMIN'];

/** The tenant scope of verified claims. */
export function scopeOf(auth: AuthClaims): Caller['scope'] {
  return { tenantId: auth.tenantId, schemaName: tenantSchemaName(auth.tenantId), userId: auth.userId };
}

/**
 * The caller, when authenticated (any role reads) or holding one of `roles`.
 * @throws AppError UNAUTHENTICATED / FORBIDDEN
 */
export function callerOf(ctx: RequestContext, roles?: readonly Role[]): Caller {
  const auth = roles ? requireRole(ctx, roles) : requireAuth(ctx);
  return { auth, scope: scopeOf(auth) };
}

/** The tenant's schema or role does not exist (not provisioned yet, or gone). */
export function notProvisioned(): AppError {
  return new AppError(ErrorCode.NotFound, "The organization's trading workspace is not provisioned");
}

/**
 * Runs `fn` in one withTenant transaction with the repository (drizzle) on it, within the tenant's
 * share of the pool. A tenant whose role does not exist (still provisioning) answers NOT_FOUND instead
 * of a database error. The order path goes through session.store.ts (which uses the next function).
 */
export async function inTenant<T>(
  db: TenantDb,
  scope: TenantScope,
  fn: (repo: TradingRepository) => Promise<T>,
): Promise<T> {
  try {
    return await db.gate.run(scope.tenantId, () =>
      withTenant(db.pool, scope, (tx) => fn(new TradingRepository(() => tx))),
    );
  } catch (err) {
    throw tenantError(err);
  }
}

/**
 * {@link inTenant} in two round trips (lib/db withTenantRoundTrips): `first` travels with the
 * transaction's prologue, the `last` statement `fn` returns with the COMMIT.
 */
export async function inTenantRoundTrips<T>(
  db: TenantDb,
  scope: TenantScope,
  first: string,
  fn: (
    first: Record<string, unknown>[],
    repo: TradingRepository,
    client: PoolClient,
  ) => Promise<{ value: T; last?: string | null }>,
): Promise<T> {
  try {
    return await db.gate.run(scope.tenantId, () =>
      withTenantRoundTrips(db.pool, scope, first, (trip) =>
        fn(trip.first, new TradingRepository(() => trip.tx), trip.client),
      ),
    );
  } catch (err) {
    throw tenantError(err);
  }
}

/**
 * The PostgreSQL error behind `err`: pg's own, or the one drizzle wraps as its `cause` (a query made
 * through drizzle fails with DrizzleQueryError, the SQLSTATE on the cause).
 */
function pgErrorOf(err: unknown): { code?: unknown; message?: unknown } {
  let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 4; depth++) {
    if (typeof e.code === 'string') return e;
    e = e.cause as typeof e;
  }
  return {};
}

/** A missing tenant role or schema (still provisioning, or gone) as NOT_FOUND; other errors as they are. */
export function tenantError(err: unknown): unknown {
  const e = pgErrorOf(err);
  if (e.code === '22023' && typeof e.message === 'string' && e.message.includes('role'))
    return notProvisioned();
  if (e.code === '42P01' || e.code === '42883') return notProvisioned();
  return err;
}

/** True for a PostgreSQL serialization failure or deadlock (safe to retry the whole transaction). */
export function isRetryable(err: unknown): boolean {
  const { code } = pgErrorOf(err);
  return code === '40001' || code === '40P01';
}
