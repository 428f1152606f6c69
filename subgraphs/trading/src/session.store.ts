/**
 * The repository of account sessions: the one way the order path reaches the database. Every change of
 * an account (place, cancel, replace, fills, expiry, cash, trading state) is one tenant transaction of
 * two round trips: the session is loaded by `trading_open_session` sent with the prologue (account row
 * locked first, everything else read after the lock was granted), and its changes are written by
 * `trading_flush_session` sent with the COMMIT (migration 0005). Both travel as simple-protocol text,
 * so every value in them is a literal quoted by lib/db sqlLiteral.
 */
import { sqlLiteral, type PoolClient, type TenantScope } from '../../../lib/db.js';
import { AccountSession } from './account-session.js';
import type { OrderRow } from './db/tenant-schema.js';
import type { PricingConfig } from './order.types.js';
import { flushDocument, mapOrder, ORDER_COLUMNS, parseSnapshot } from './session.codec.js';
import type { SessionChanges, SessionSnapshot, TxEffects } from './session-changes.js';
import { inTenantRoundTrips, type TenantDb } from './tenant-scope.js';
import type { TradingRepository } from './trading.repository.js';

/** Which account session to load, and what to load with it. */
export interface SessionRequest {
  /** The account, or the order whose account it is (cancel, replace). */
  account: { id: string } | { ofOrder: string };
  /** Lock the account row; false only reads it (dry runs), and nothing is written then. */
  lock: boolean;
  /** clientOrderIds whose existing orders to look up ({@link AccountSession.existingOrderId}). */
  clientOrderIds?: readonly string[];
  /** Orders to lock and load ({@link AccountSession.requested}), oldest first. */
  orderIds?: readonly string[];
  /** Also lock and load the account's open orders (of one symbol when not null), after `orderIds`. */
  openOrders?: { symbol: string | null };
  /** The session's clock (epoch ms). */
  now: number;
}

/** What a session's work returned, and what its committed changes were (null: nothing changed). */
export interface SessionOutcome<T> {
  value: T;
  effects: TxEffects | null;
}

/** The unique (account, clientOrderId) index refused an insert the account lock should have prevented. */
export class DuplicateOrderError extends Error {
  constructor() {
    super('duplicate clientOrderId');
    this.name = 'DuplicateOrderError';
  }
}

export class SessionStore {
  constructor(
    private readonly db: TenantDb,
    private readonly pricing: PricingConfig,
  ) {}

  /**
   * Loads the account's session, runs `work` on it, and writes what it changed, in one transaction.
   * `work` may read more through the repository of the same transaction; a throw rolls it all back.
   * @returns undefined when the account (or the order) does not exist in the caller's tenant
   * @throws DuplicateOrderError when a new order's clientOrderId already exists in the account
   */
  async withSession<T>(
    scope: TenantScope,
    request: SessionRequest,
    work: (session: AccountSession, repo: TradingRepository) => T | Promise<T>,
  ): Promise<SessionOutcome<T> | undefined> {
    try {
      return await inTenantRoundTrips<SessionOutcome<T> | undefined>(
        this.db,
        scope,
        loadStatement(request),
        async (rows, repo, client) => {
          const session = await this.load(client, rows[0], request);
          if (!session) return { value: undefined };
          return this.save(session, request, await work(session, repo));
        },
      );
    } catch (err) {
      throw asDuplicateOrder(err);
    }
  }

  /**
   * Loads the session from what `trading_open_session` returned with the prologue, plus the account's
   * open orders (locked) when the request asks for them.
   */
  private async load(
    client: PoolClient,
    opened: Record<string, unknown> | undefined,
    request: SessionRequest,
  ): Promise<AccountSession | undefined> {
    const snapshot = parseSnapshot(opened);
    if (!snapshot) return undefined;
    if (request.openOrders)
      snapshot.orders.push(...(await lockOpenOrders(client, snapshot, request.openOrders)));
    return new AccountSession(snapshot, this.pricing, request.now);
  }

  /** The work's value and effects, with the write of the session's changes (sent with the COMMIT). */
  private save<T>(
    session: AccountSession,
    request: SessionRequest,
    value: T,
  ): { value: SessionOutcome<T>; last?: string } {
    if (!request.lock || !session.changed) return { value: { value, effects: null } };
    const { changes, effects } = session.collect();
    return { value: { value, effects }, last: saveStatement(changes) };
  }
}

/** The statement that loads a session (`trading_open_session`, migration 0005), for the simple protocol. */
function loadStatement(r: SessionRequest): string {
  const array = (values: readonly string[] | undefined, type: string): string =>
    values ? `ARRAY[${values.map((v) => sqlLiteral(v)).join(', ')}]::${type}[]` : 'NULL';
  // An order's account never changes, so reading it before the lock is safe.
  const account =
    'id' in r.account
      ? `${sqlLiteral(r.account.id)}::uuid`
      : `(SELECT account_id FROM orders WHERE id = ${sqlLiteral(r.account.ofOrder)}::uuid)`;
  return (
    `SELECT trading_open_session(${account}, ${r.lock ? 'true' : 'false'}, ` +
    `${array(r.clientOrderIds, 'text')}, ${array(r.orderIds, 'uuid')}) AS s`
  );
}

/** The account's open orders (of one symbol when not null), locked, oldest first. */
async function lockOpenOrders(
  client: PoolClient,
  snapshot: SessionSnapshot,
  open: { symbol: string | null },
): Promise<OrderRow[]> {
  const r = await client.query<Record<string, unknown>>(
    `SELECT ${ORDER_COLUMNS} FROM orders
      WHERE account_id = $1 AND status IN ('NEW', 'PARTIALLY_FILLED') AND ($2::text IS NULL OR symbol = $2)
      ORDER BY created_at, id FOR UPDATE`,
    [snapshot.account.id, open.symbol],
  );
  return r.rows.map(mapOrder);
}

/** The statement that writes a session's changes (`trading_flush_session`), sent with the COMMIT. */
function saveStatement(c: SessionChanges): string {
  return `SELECT trading_flush_session(${sqlLiteral(flushDocument(c))}::jsonb)`;
}

/** A unique violation of (account, clientOrderId) as {@link DuplicateOrderError}; other errors as they are. */
function asDuplicateOrder(err: unknown): unknown {
  const e = err as { code?: unknown; constraint?: unknown };
  return e.code === '23505' && e.constraint === 'orders_client_order_id_unique'
    ? new DuplicateOrderError()
    : err;
}
