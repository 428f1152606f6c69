import { getTableColumns, sql, type SQL, type Table } from 'drizzle-orm';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import type { Config } from './config.js';
import { forbidden } from './errors.js';

export type Db = NodePgDatabase<Record<string, never>>;
export type PoolClient = pg.PoolClient;

/** Identifiers we interpolate into SQL (schema and role names) must match this. */
const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/** Quotes a validated identifier; throws on anything that is not a plain lower-case identifier. */
export function ident(name: string): string {
  if (!IDENT.test(name)) throw new Error(`invalid SQL identifier: ${JSON.stringify(name)}`);
  return `"${name}"`;
}

/** Schema and role names of a tenant (they are the same: `t_<short id>`). */
export function tenantSchemaName(tenantId: string): string {
  return `t_${tenantId.replace(/-/g, '').slice(0, 16)}`;
}

/**
 * How much longer than the statement timeout a query may go unanswered before the client gives up on
 * its connection: the server cancels a slow statement first, so reaching this means the connection is
 * dead without a reset (a PgBouncer or host that vanished from the network).
 */
const QUERY_TIMEOUT_MARGIN_MS = 5_000;

/**
 * A pg pool with the statement timeout and an application name set per connection.
 *
 * A connection that dies under a checked-out client (PgBouncer or PostgreSQL killed, restarted or
 * failed over) makes the client emit `error`; pg-pool listens only while a client is idle, so without
 * a listener of our own that event killed the whole process. The client's queries reject instead, the
 * transaction helpers below destroy it, and the pool opens fresh connections.
 * @param url connection string (app role for services, owner role for migrations and provisioning)
 */
export function createPool(
  config: Pick<Config, 'DB_POOL_MAX' | 'DB_STATEMENT_TIMEOUT_MS'>,
  url: string,
  applicationName: string,
  options: { warm?: number } = {},
): pg.Pool {
  const warm = Math.min(Math.max(0, options.warm ?? 0), config.DB_POOL_MAX);
  const pool = new pg.Pool({
    connectionString: url,
    max: config.DB_POOL_MAX,
    // Idle connections are closed after idleTimeoutMillis only while the pool holds more than this.
    min: warm,
    application_name: applicationName,
    statement_timeout: config.DB_STATEMENT_TIMEOUT_MS,
    // Client-side bounds for what the server cannot bound: a query on a dead connection, and a
    // connection (or a free pooled client) that never comes. Without them an account's placement turn
    // could wait forever.
    query_timeout: config.DB_STATEMENT_TIMEOUT_MS + QUERY_TIMEOUT_MARGIN_MS,
    connectionTimeoutMillis: config.DB_STATEMENT_TIMEOUT_MS,
    keepAlive: true,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  // Nor a checked-out one: the error reaches its caller through the rejected query.
  pool.on('connect', (client) => client.on('error', () => undefined));
  if (warm > 0) keepWarm(pool, warm);
  return pool;
}

/** How long a pool waits before opening connections again after one was lost or could not be made. */
const REWARM_DELAY_MS = 1_000;

/**
 * Opens connections until `pool` holds `warm` of them, at once and again whenever one is removed (lost,
 * or destroyed after a failure), so that a burst of work does not wait for new PostgreSQL connections:
 * a connection is a backend process to start, authenticate and warm up, 10-20 ms on a busy host, paid
 * by the request that triggered it (trading's traces in BENCHMARKS.md, noisy neighbour). pg-pool's
 * `min` then keeps them open while idle. Gives up quietly once the pool is ending.
 */
function keepWarm(pool: pg.Pool, warm: number): void {
  let timer: NodeJS.Timeout | undefined;
  const later = (): void => {
    if (timer || pool.ending) return;
    timer = setTimeout(() => {
      timer = undefined;
      fill();
    }, REWARM_DELAY_MS);
    timer.unref();
  };
  const fill = (): void => {
    if (pool.ending) return;
    const missing = warm - pool.totalCount;
    if (missing <= 0) return;
    // The pool hands out idle connections before it opens any: ask for every idle one too, so that
    // `missing` new ones are opened. Never more than DB_POOL_MAX less the busy ones, so nothing waits.
    const take = pool.idleCount + missing;
    for (let i = 0; i < take; i++) {
      pool.connect().then(
        (client) => client.release(),
        () => later(),
      );
    }
  };
  // An idle connection that fails is taken out of the pool at once ('error'); 'remove' follows only
  // once its socket has ended, which a dead connection may never report.
  pool.on('error', later);
  pool.on('remove', later);
  fill();
}

/**
 * Gives back the client of a failed transaction: rolled back when its connection still answers,
 * destroyed when it does not (lost, or still running a query that outlived `query_timeout`), so the
 * pool never hands out a connection in an unknown state.
 */
export async function releaseAfterFailure(client: pg.PoolClient, err: unknown): Promise<void> {
  if (isQueryTimeout(err)) {
    client.release(err);
    return;
  }
  const rollback = await client.query('ROLLBACK').then(
    () => undefined,
    (e: unknown) => (e instanceof Error ? e : new Error('ROLLBACK failed')),
  );
  client.release(rollback);
}

/** pg's client-side `query_timeout` error (its message is the only mark it carries). */
function isQueryTimeout(err: unknown): err is Error {
  return err instanceof Error && err.message === 'Query read timeout';
}

/** Wraps a pool (or one client) in drizzle. */
export function createDb(client: pg.Pool | pg.PoolClient | pg.Client): Db {
  return drizzle({ client });
}

/** What `withTenant` needs to know about the caller. */
export interface TenantScope {
  tenantId: string;
  schemaName: string;
  userId?: string | undefined;
}

/**
 * Runs `fn` in one transaction scoped to a tenant: `SET LOCAL ROLE <tenant role>` and
 * `SET LOCAL search_path = <tenant schema>` first, plus `app.tenant_id` / `app.user_id` settings
 * read by row-level-security policies. The role and settings end with the transaction, so a
 * pooled connection never carries one tenant's scope into another's request.
 */
export async function withTenant<T>(
  pool: pg.Pool,
  scope: TenantScope,
  fn: (tx: Db, client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  return inTenantTransaction(pool, scope, async (client, prologue) => {
    // One round trip for the whole prologue (it is paid by every tenant transaction).
    await client.query(prologue);
    const result = await fn(createDb(client), client);
    await client.query('COMMIT');
    return result;
  });
}

/** A pooled connection for one tenant transaction: `run` begins and commits it; a throw rolls it back. */
async function inTenantTransaction<T>(
  pool: pg.Pool,
  scope: TenantScope,
  run: (client: pg.PoolClient, prologue: string) => Promise<T>,
): Promise<T> {
  const prologue = tenantPrologue(scope);
  const client = await pool.connect();
  let result: T;
  try {
    result = await run(client, prologue);
  } catch (err) {
    await releaseAfterFailure(client, err);
    throw err;
  }
  client.release();
  return result;
}

/**
 * A tenant transaction's prologue as one simple-protocol batch: BEGIN, the role, the search_path and
 * the RLS settings. Its only values are a validated identifier and two escaped literals.
 */
function tenantPrologue(scope: TenantScope): string {
  if (tenantSchemaName(scope.tenantId) !== scope.schemaName) throw forbidden('Tenant scope mismatch');
  return (
    `BEGIN; SET LOCAL ROLE ${ident(scope.schemaName)}; SET LOCAL search_path = ${ident(scope.schemaName)}; ` +
    `SELECT set_config('app.tenant_id', ${pg.escapeLiteral(scope.tenantId)}, true), ` +
    `set_config('app.user_id', ${pg.escapeLiteral(scope.userId ?? '')}, true)`
  );
}

/** What {@link withTenantRoundTrips} hands to its function. */
export interface TenantRoundTrip {
  /** The rows of the `first` statement. */
  first: Record<string, unknown>[];
  /** drizzle on the transaction's connection (made on first use). */
  readonly tx: Db;
  client: pg.PoolClient;
}

/**
 * {@link withTenant} for hot paths, where a round trip to PostgreSQL costs more CPU than the work it
 * carries: `first` travels with the prologue and its rows are handed to `fn`; the `last` statement `fn`
 * returns (if any) travels with COMMIT. A transaction that needs nothing else is two round trips.
 * Both statements go over the simple protocol, so they take no parameters: every value in them must be
 * a validated identifier or a literal quoted by {@link sqlLiteral}. A failing `last` fails the COMMIT
 * with it (statements after an error in a batch do not run) and the transaction rolls back.
 */
export async function withTenantRoundTrips<T>(
  pool: pg.Pool,
  scope: TenantScope,
  first: string,
  fn: (trip: TenantRoundTrip) => Promise<{ value: T; last?: string | null }>,
): Promise<T> {
  return inTenantTransaction(pool, scope, async (client, prologue) => {
    const opened = await client.query<Record<string, unknown>>(`${prologue}; ${first}`);
    let db: Db | undefined;
    const { value, last } = await fn({
      first: lastResult(opened).rows,
      // drizzle is made only when `fn` reaches for it: a hot path of two round trips never does.
      get tx() {
        return (db ??= createDb(client));
      },
      client,
    });
    await client.query(last ? `${last}; COMMIT` : 'COMMIT');
    return value;
  });
}

/**
 * A value as an SQL literal for the simple protocol (null as NULL): exactly what pg.escapeLiteral
 * answers (quotes and backslashes doubled, ` E'...'` when a backslash is present), built with native
 * string searches instead of its loop over characters (slow on the JSON document of each placement
 * batch, see BENCHMARKS.md).
 */
export function sqlLiteral(value: string | null): string {
  if (value === null) return 'NULL';
  const backslash = value.includes('\\');
  if (!backslash && !value.includes("'")) return `'${value}'`;
  const quoted = `'${value.replace(/['\\]/g, '$&$&')}'`;
  return backslash ? ` E${quoted}` : quoted;
}

/** The last statement's result of a simple-protocol batch (node-pg answers an array for several). */
function lastResult<R extends pg.QueryResultRow>(
  r: pg.QueryResult<R> | pg.QueryResult<R>[],
): pg.QueryResult<R> {
  return Array.isArray(r) ? (r[r.length - 1] as pg.QueryResult<R>) : r;
}

/** Row-level-security scope for platform tables that carry a tenant id. */
export type PlatformScope =
  | { kind: 'tenant'; tenantId: string; userId?: string | undefined }
  | { kind: 'user'; userId: string }
  /** System work (workers, platform administrators): sees every tenant's rows. */
  | { kind: 'system' };

/**
 * Runs `fn` in a transaction on platform tables with the RLS settings of `scope`
 * (`app.tenant_id`, `app.user_id`, `app.system`). Policies on shared tables read these; the app
 * role cannot bypass RLS, so a query outside this helper sees no tenant rows at all.
 */
export async function withPlatform<T>(
  pool: pg.Pool,
  scope: PlatformScope,
  fn: (tx: Db, client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let result: T;
  try {
    // One round trip for BEGIN and the settings (as withTenant's prologue): every platform
    // transaction pays it, and a round trip costs PostgreSQL more CPU than these statements do.
    await client.query(platformPrologue(scope));
    result = await fn(createDb(client), client);
    await client.query('COMMIT');
  } catch (err) {
    await releaseAfterFailure(client, err);
    throw err;
  }
  client.release();
  return result;
}

/**
 * A read of platform tables in one round trip: `read` issues one statement (a drizzle query, say),
 * which travels with the RLS settings of `scope` as one simple-protocol message. PostgreSQL runs a
 * message of several statements as one implicit transaction, so the transaction-local settings hold
 * for the read and end with it: no BEGIN and no COMMIT round trips ({@link withPlatform} takes three).
 * Through PgBouncer's transaction pooling one message is one transaction, as it should be. The
 * statement's parameters are inlined as literals ({@link sqlLiteral} for strings; numbers, booleans,
 * dates and null); a second statement, or a parameter of another type, throws: use withPlatform.
 */
export async function readPlatform<T>(
  pool: pg.Pool,
  scope: PlatformScope,
  read: (db: Db) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  const via = new OneMessageClient(client);
  return readInScope(client, via, scope, () => read(createDb(via as unknown as pg.PoolClient)));
}

/**
 * A {@link readPlatform} whose statement drizzle builds once per pooled connection instead of on
 * every read: drizzle's query building (its entity checks above all) is a quarter of a small read's
 * CPU in the client (BENCHMARKS.md). `prepare` makes the statement with `sql.placeholder`s for its
 * values and drizzle's `.prepare(name)`; the name is not sent (the statement still travels as one
 * simple-protocol message with the scope's settings, so PgBouncer's transaction pooling, which does
 * not carry prepared statements before 1.21, is fine).
 */
export class PlatformRead<V extends Record<string, unknown>, R> {
  private readonly prepared = new WeakMap<pg.PoolClient, { via: OneMessageClient; run?: Prepared<V, R> }>();

  constructor(private readonly prepare: (db: Db) => Prepared<V, R>) {}

  /** Runs the statement with `values` in `scope`, in one round trip. */
  async run(pool: pg.Pool, scope: PlatformScope, values: V): Promise<R> {
    const client = await pool.connect();
    let entry = this.prepared.get(client);
    if (!entry) {
      entry = { via: new OneMessageClient(client) };
      this.prepared.set(client, entry);
    }
    const { via } = entry;
    return readInScope(client, via, scope, () =>
      (entry.run ??= this.prepare(createDb(via as unknown as pg.PoolClient))).execute(values),
    );
  }
}

/**
 * Runs `read` on the checked-out `client` with `via` in `scope` (a pooled connection serves one
 * caller at a time, so the scope is this read's until it returns), then gives the connection back.
 */
async function readInScope<T>(
  client: pg.PoolClient,
  via: OneMessageClient,
  scope: PlatformScope,
  read: () => Promise<T>,
): Promise<T> {
  via.begin(scope);
  let value: T;
  try {
    value = await read();
  } catch (err) {
    via.end();
    await releaseAfterFailure(client, err);
    throw err;
  }
  via.end();
  client.release();
  return value;
}

/**
 * A statement drizzle builds once per pool (or client) instead of on every call: its query building
 * is most of a small query's CPU in the client (BENCHMARKS.md, "Platform reads in one round trip").
 * `prepare` makes it with `sql.placeholder`s and drizzle's `.prepare(name)`; the name is not sent, so
 * it runs as an unnamed statement like any other query (no server-side prepared statement, which
 * PgBouncer's transaction pooling would not carry before 1.21). For tables without row-level
 * security; a scoped read is a {@link PlatformRead}.
 */
export class BuiltStatement<V extends Record<string, unknown>, R> {
  private readonly built = new WeakMap<object, Prepared<V, R>>();

  constructor(private readonly prepare: (db: Db) => Prepared<V, R>) {}

  /** Runs the statement with `values` on `db`'s pool or client. */
  run(db: Db, values: V): Promise<R> {
    const client = (db as unknown as { $client: pg.Pool | pg.PoolClient }).$client;
    let statement = this.built.get(client);
    if (!statement) {
      statement = this.prepare(createDb(new UnnamedClient(client) as unknown as pg.PoolClient));
      this.built.set(client, statement);
    }
    return statement.execute(values);
  }
}

/** Passes drizzle's queries on without their statement name (see {@link BuiltStatement}). */
class UnnamedClient {
  constructor(private readonly client: pg.Pool | pg.PoolClient) {}

  query(config: pg.QueryConfig, values?: unknown[]): Promise<pg.QueryResult> {
    const { name: _name, ...unnamed } = config;
    return this.client.query({ ...unnamed, values: values ?? config.values ?? [] });
  }
}

/** What drizzle's `.prepare(name)` answers, as far as {@link PlatformRead} and {@link BuiltStatement} use it. */
export interface Prepared<V, R> {
  execute(values: V): Promise<R>;
}

/**
 * The client drizzle sees in {@link readPlatform} and {@link PlatformRead}: its one statement goes to
 * the pooled connection with `scope`'s settings in front, as one simple-protocol message.
 */
class OneMessageClient {
  private scope: PlatformScope | undefined;
  private sent = false;

  constructor(private readonly client: pg.PoolClient) {}

  /** The next statement is a read in `scope`. */
  begin(scope: PlatformScope): void {
    this.scope = scope;
    this.sent = false;
  }

  /** The read is over: a statement now throws. */
  end(): void {
    this.scope = undefined;
  }

  /** What drizzle calls: `config` a `{ text, rowMode, types, name }` object, `values` its parameters. */
  async query(config: pg.QueryConfig, values?: unknown[]): Promise<pg.QueryResult> {
    const scope = this.scope;
    if (!scope) throw new Error('a platform read outside its scope');
    if (this.sent) throw new Error('readPlatform reads with one statement; use withPlatform for more');
    this.sent = true;
    const text = `${scopeSettings(scope)}; ${inlineParameters(config.text, values ?? config.values ?? [])}`;
    const { rowMode, types } = config as pg.QueryArrayConfig;
    const result = await this.client.query({
      text,
      ...(rowMode ? { rowMode } : {}),
      ...(types ? { types } : {}),
    });
    return lastResult(result as pg.QueryResult | pg.QueryResult[]);
  }
}

/** The fields of {@link wholeRowFields}: one per column of the table, typed as drizzle reads it. */
export type WholeRowFields<T extends Table> = { [K in keyof T['$inferSelect']]: SQL<T['$inferSelect'][K]> };

/**
 * Drizzle select fields reading a whole-row column of `table`'s row type (a function's
 * `RETURNS TABLE (x some_table)`, say): `(column).field` for every column of the table, decoded as
 * the table's own column would be. So `db.select({ tenant: wholeRowFields(tenants, 'tenant') })`
 * answers `TenantRow`s from such a function, and follows the table when a column is added.
 */
export function wholeRowFields<T extends Table>(table: T, column: string): WholeRowFields<T> {
  const row = sql.identifier(column);
  return Object.fromEntries(
    Object.entries(getTableColumns(table)).map(([key, col]) => [
      key,
      sql`(${row}).${sql.identifier(col.name)}`.mapWith(col),
    ]),
  ) as WholeRowFields<T>;
}

/** `$1`, `$2`... of a statement replaced by its values as SQL literals (see {@link readPlatform}). */
export function inlineParameters(text: string, values: readonly unknown[]): string {
  return text.replace(/\$(\d+)\b/g, (_m, n: string) => {
    const i = Number(n) - 1;
    if (i < 0 || i >= values.length) throw new Error(`no value for parameter $${n}`);
    const v = values[i];
    if (v === null || v === undefined) return 'NULL';
    if (typeof v === 'string') return sqlLiteral(v);
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
    if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
    if (v instanceof Date) return sqlLiteral(v.toISOString());
    throw new Error(`parameter $${n} of type ${typeof v} cannot be inlined`);
  });
}

/** The `SELECT set_config(...)` of `scope`'s RLS settings, transaction-local. */
function scopeSettings(scope: PlatformScope): string {
  const tenantId = scope.kind === 'tenant' ? scope.tenantId : '';
  const userId = scope.kind === 'system' ? '' : (scope.userId ?? '');
  const system = scope.kind === 'system' ? 'on' : 'off';
  return (
    `SELECT set_config('app.tenant_id', ${sqlLiteral(tenantId)}, true), ` +
    `set_config('app.user_id', ${sqlLiteral(userId)}, true), set_config('app.system', '${system}', true)`
  );
}

/**
 * A platform transaction's prologue as one simple-protocol batch: BEGIN and the RLS settings of
 * `scope`, its values quoted by {@link sqlLiteral}.
 */
function platformPrologue(scope: PlatformScope): string {
  return `BEGIN; ${scopeSettings(scope)}`;
}

/**
 * Applies a folder of committed drizzle migrations with the real migrator.
 * `searchPath` targets a tenant schema; the migration record lives in `recordSchema.recordTable`,
 * so each schema (and each owner of migrations) keeps its own history.
 */
export async function runMigrations(opts: {
  url: string;
  folder: string;
  recordSchema: string;
  recordTable: string;
  searchPath?: string;
}): Promise<void> {
  const client = new pg.Client({ connectionString: opts.url, application_name: 'tradesage-migrator' });
  // A lost connection rejects the migration's query; its `error` event must not end the process.
  client.on('error', () => undefined);
  await client.connect();
  try {
    // A dedicated (unpooled) connection, so a session-level search_path is safe here.
    if (opts.searchPath) await client.query(`SET search_path = ${ident(opts.searchPath)}`);
    await migrate(drizzle({ client }), {
      migrationsFolder: opts.folder,
      migrationsSchema: opts.recordSchema,
      migrationsTable: opts.recordTable,
    });
  } finally {
    await client.end();
  }
}

/** True when the database answers. */
export async function pingDb(pool: pg.Pool): Promise<boolean> {
  try {
    await pool.query('SELECT 1');
    return true;
  } catch {
    return false;
  }
}
