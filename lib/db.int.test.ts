/**
 * Pooled connections that die under a running transaction (real PostgreSQL): the process survives the
 * client's `error` event, the transaction rejects, and the dead connection is never handed out again.
 * A connection that stops answering without a reset (a vanished PgBouncer or host, played here by a
 * loopback proxy that stops forwarding) is given up after the client-side query timeout.
 */
import net from 'node:net';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminUrlOf, createTestEnv, createTestPool, type TestEnv } from '../test/support/env.js';
import { eventually } from '../test/support/wait.js';
import { sql, type SQL } from 'drizzle-orm';
import {
  BuiltStatement,
  createDb,
  createPool,
  type Db,
  ident,
  inlineParameters,
  PlatformRead,
  readPlatform,
  withPlatform,
} from './db.js';

const SYSTEM = { kind: 'system' } as const;
/** Short, so the client-side timeout (statement timeout plus its margin) comes soon. */
const STATEMENT_TIMEOUT_MS = 300;

let env: TestEnv;
let admin: pg.Pool;
const pools: pg.Pool[] = [];

beforeAll(async () => {
  env = await createTestEnv('db_conn_loss');
  admin = createTestPool(adminUrlOf(env.config), 1);
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
  await admin?.end();
  await env?.cleanup();
});

function poolOf(url: string): pg.Pool {
  const pool = createPool(
    { DB_POOL_MAX: 1, DB_STATEMENT_TIMEOUT_MS: STATEMENT_TIMEOUT_MS },
    url,
    'db-conn-loss-test',
  );
  pools.push(pool);
  return pool;
}

async function backendPid(client: pg.PoolClient): Promise<number> {
  const r = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return r.rows[0]?.pid ?? 0;
}

/**
 * A TCP proxy to PostgreSQL whose `freeze()` stops forwarding on the connections open at that moment:
 * they stay open and nothing answers. Connections made later are forwarded.
 */
async function startProxy(target: URL): Promise<{ port: number; freeze(): void; close(): Promise<void> }> {
  const open = new Set<{ frozen: boolean; down: net.Socket; up: net.Socket }>();
  const server = net.createServer((down) => {
    const up = net.connect(Number(target.port || 5432), target.hostname);
    const link = { frozen: false, down, up };
    open.add(link);
    for (const s of [down, up]) {
      s.on('error', () => undefined);
      s.on('close', () => {
        open.delete(link);
        down.destroy();
        up.destroy();
      });
    }
    down.on('data', (d) => {
      if (!link.frozen) up.write(d);
    });
    up.on('data', (d) => {
      if (!link.frozen) down.write(d);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    freeze: () => {
      for (const link of open) link.frozen = true;
    },
    close: async () => {
      for (const link of open) link.down.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('a connection lost under a checked-out client', () => {
  it('rejects the transaction, keeps the process up and never reuses the connection', async () => {
    const pool = poolOf(env.config.DATABASE_URL);
    let lost = 0;
    const failed = withPlatform(pool, SYSTEM, async (_tx, client) => {
      lost = await backendPid(client);
      // The backend dies while the transaction holds its client between two statements.
      await admin.query('SELECT pg_terminate_backend($1)', [lost]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await client.query('SELECT 1');
    });
    await expect(failed).rejects.toThrow();
    const next = await withPlatform(pool, SYSTEM, (_tx, client) => backendPid(client));
    expect(next).not.toBe(lost);
    expect(pool.totalCount).toBe(1);
  });

  it('gives up on a connection that stops answering, and the pool carries on with a fresh one', async () => {
    const proxy = await startProxy(new URL(env.config.DATABASE_URL));
    try {
      const url = new URL(env.config.DATABASE_URL);
      url.port = String(proxy.port);
      const pool = poolOf(url.toString());
      const before = await withPlatform(pool, SYSTEM, (_tx, client) => backendPid(client));
      proxy.freeze();
      // Without the client-side timeout this would wait for TCP to give up (minutes): the test's
      // timeout would fail it.
      await expect(withPlatform(pool, SYSTEM, (_tx, client) => backendPid(client))).rejects.toThrow(
        'Query read timeout',
      );
      // The frozen connection was destroyed, not given back; the next transaction gets a new one.
      expect(pool.totalCount).toBe(0);
      const after = await withPlatform(pool, SYSTEM, (_tx, client) => backendPid(client));
      expect(after).not.toBe(before);
    } finally {
      await proxy.close();
    }
  }, 60_000);
});

describe('a pool ended just before its database is dropped WITH (FORCE)', () => {
  // pool.end() resolves once it has asked its idle connections to close, not once they have, so the
  // drop can still terminate one (57P01), as every test file's env.cleanup() may do right after its
  // services and pools end. pg-pool re-emits that error on the pool: without a listener there, an
  // uncaught exception that fails the whole vitest run (which is how this test fails).
  let n = 0;
  it.each([
    [
      'a service pool (createPool)',
      (url: string): pg.Pool =>
        createPool({ DB_POOL_MAX: 3, DB_STATEMENT_TIMEOUT_MS: 5_000 }, url, 'db-force-drop-test'),
    ],
    ['a test pool (createTestPool)', (url: string): pg.Pool => createTestPool(url, 3)],
  ])('%s outlives the termination of its closing connections', async (_name, poolFor) => {
    n += 1;
    const database = `${new URL(env.config.DATABASE_URL).pathname.slice(1)}_drop${n}`;
    const dropper = createTestPool(env.config.DATABASE_ADMIN_URL, 1);
    await dropper.query(`CREATE DATABASE ${ident(database)}`);
    try {
      const url = new URL(env.config.DATABASE_ADMIN_URL);
      url.pathname = `/${database}`;
      const pool = poolFor(url.toString());
      const clients = await Promise.all([1, 2, 3].map(() => pool.connect()));
      for (const c of clients) c.release();
      // 'remove' comes when a connection has closed, after anything the server sent on it.
      const closed = new Promise<void>((resolve) => {
        let open = clients.length;
        pool.on('remove', () => {
          open -= 1;
          if (open === 0) resolve();
        });
      });
      await pool.end();
      // At once, on a connection already open: the closing backends may not have read their Terminate.
      await dropper.query(`DROP DATABASE ${ident(database)} WITH (FORCE)`);
      await closed;
      const left = await dropper.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
      expect(left.rowCount).toBe(0);
    } finally {
      await dropper.query(`DROP DATABASE IF EXISTS ${ident(database)} WITH (FORCE)`);
      await dropper.end();
    }
  });
});

describe('a warm pool (createPool with `warm`)', () => {
  /** Backends of `application` in this test's database, by pid. */
  async function backendsOf(application: string): Promise<number[]> {
    const r = await admin.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database() ORDER BY pid',
      [application],
    );
    return r.rows.map((row) => row.pid);
  }

  it('opens its connections before any work and opens one again after it was lost', async () => {
    const application = 'db-warm-pool-test';
    const pool = createPool(
      { DB_POOL_MAX: 5, DB_STATEMENT_TIMEOUT_MS: 5_000 },
      env.config.DATABASE_URL,
      application,
      { warm: 3 },
    );
    pools.push(pool);
    // Nothing was asked of the pool: the three backends are there anyway, idle.
    const first = await eventually(
      async () => {
        const pids = await backendsOf(application);
        return pids.length === 3 ? pids : undefined;
      },
      'three warm connections',
      10_000,
    );
    expect(pool.totalCount).toBe(3);
    expect(pool.idleCount).toBe(3);

    // One is lost (a backend terminated, as by a PostgreSQL or PgBouncer restart).
    const lost = first[0];
    await admin.query('SELECT pg_terminate_backend($1)', [lost]);
    const again = await eventually(
      async () => {
        const pids = await backendsOf(application);
        return pids.length === 3 && !pids.includes(lost ?? 0) ? pids : undefined;
      },
      'the lost connection replaced',
      10_000,
    );
    expect(again.filter((pid) => first.includes(pid))).toHaveLength(2);

    // Work still goes through the warm connections, and the pool never grows past what it needs.
    const r = await pool.query<{ one: number }>('SELECT 1 AS one');
    expect(r.rows[0]?.one).toBe(1);
    expect(pool.totalCount).toBe(3);
  });

  it('never holds more than DB_POOL_MAX, and nothing without `warm`', async () => {
    const capped = createPool(
      { DB_POOL_MAX: 2, DB_STATEMENT_TIMEOUT_MS: 5_000 },
      env.config.DATABASE_URL,
      'db-warm-cap',
      {
        warm: 10,
      },
    );
    const cold = createPool(
      { DB_POOL_MAX: 2, DB_STATEMENT_TIMEOUT_MS: 5_000 },
      env.config.DATABASE_URL,
      'db-warm-cold',
    );
    pools.push(capped, cold);
    await eventually(
      async () => ((await backendsOf('db-warm-cap')).length === 2 ? true : undefined),
      'two warm connections',
      10_000,
    );
    expect(capped.totalCount).toBe(2);
    expect(await backendsOf('db-warm-cold')).toEqual([]);
    expect(cold.totalCount).toBe(0);
  });
});

describe('withPlatform', () => {
  it('begins with the scope settings in one round trip, any value kept exactly', async () => {
    const pool = poolOf(env.config.DATABASE_URL);
    // Counts the statements the transaction sends on its pooled client.
    const sent: string[] = [];
    pool.once('acquire', (client: pg.PoolClient) => {
      const original = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
        sent.push(String(args[0]));
        return original(...args);
      };
    });
    const userId = `o'brien\\x`;
    const settings = await withPlatform(pool, { kind: 'user', userId }, async (_tx, client) => {
      const r = await client.query<{ u: string; t: string; s: string }>(
        `SELECT current_setting('app.user_id') AS u, current_setting('app.tenant_id') AS t,
                current_setting('app.system') AS s`,
      );
      return r.rows[0];
    });
    // Transaction-local settings seen by a later statement: the batch's BEGIN opened the transaction.
    expect(settings).toEqual({ u: userId, t: '', s: 'off' });
    expect(sent).toHaveLength(3);
    expect(sent[0]).toMatch(/^BEGIN; SELECT set_config/);
    expect(sent[2]).toBe('COMMIT');
    // Transaction-local: the pooled connection carries nothing into the next transaction.
    const after = await withPlatform(pool, SYSTEM, async (_tx, client) => {
      const r = await client.query<{ u: string; s: string }>(
        `SELECT current_setting('app.user_id') AS u, current_setting('app.system') AS s`,
      );
      return r.rows[0];
    });
    expect(after).toEqual({ u: '', s: 'on' });
  });
});

/** Counts the messages sent on the pool's next client. */
function countSent(pool: pg.Pool): string[] {
  const sent: string[] = [];
  pool.once('acquire', (client: pg.PoolClient) => {
    const original = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const [first] = args;
      sent.push(typeof first === 'string' ? first : String((first as { text?: string }).text));
      return original(...args);
    };
  });
  return sent;
}

describe('readPlatform', () => {
  it('reads with the scope settings in one message, parameters inlined exactly', async () => {
    const pool = poolOf(env.config.DATABASE_URL);
    const sent = countSent(pool);
    const userId = `o'brien\\x`;
    const text = `it's $1 \\ 'quoted'`;
    const rows = await readPlatform(pool, { kind: 'user', userId }, (db) =>
      db.execute<{ u: string; s: string; v: string; n: number; b: boolean; z: string | null }>(
        sql`SELECT current_setting('app.user_id') AS u, current_setting('app.system') AS s,
                   ${text}::text AS v, ${42}::int AS n, ${true}::boolean AS b, ${null}::text AS z`,
      ),
    );
    expect(rows.rows[0]).toEqual({ u: userId, s: 'off', v: text, n: 42, b: true, z: null });
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatch(/^SELECT set_config\('app.tenant_id'/);
    // The settings were the message's implicit transaction's: the next read on the connection has none.
    const next = await readPlatform(pool, SYSTEM, (db) =>
      db.execute<{ u: string; s: string }>(
        sql`SELECT current_setting('app.user_id') AS u, current_setting('app.system') AS s`,
      ),
    );
    expect(next.rows[0]).toEqual({ u: '', s: 'on' });
  });

  it('refuses a second statement, and a failed read leaves the pool usable', async () => {
    const pool = poolOf(env.config.DATABASE_URL);
    // drizzle wraps what the client throws (DrizzleQueryError, the client's error as its cause).
    const causeOf = (p: Promise<unknown>): Promise<string> =>
      p.then(
        () => 'resolved',
        (err: Error) => String((err.cause as Error | undefined)?.message ?? err.message),
      );
    const twice = readPlatform(pool, SYSTEM, async (db) => {
      await db.execute(sql`SELECT 1`);
      await db.execute(sql`SELECT 2`);
    });
    expect(await causeOf(twice)).toMatch('one statement');
    expect(await causeOf(readPlatform(pool, SYSTEM, (db) => db.execute(sql`SELECT 1 / 0`)))).toMatch(
      'division by zero',
    );
    const ok = await readPlatform(pool, SYSTEM, (db) => db.execute<{ one: number }>(sql`SELECT 1 AS one`));
    expect(ok.rows[0]).toEqual({ one: 1 });
  });

  it('inlines only what it can quote', () => {
    const values = [...Array<string>(9).fill(`x'`), 'y'];
    expect(inlineParameters('a = $1 AND b = $2 AND c = $10', values)).toBe(
      `a = 'x''' AND b = 'x''' AND c = 'y'`,
    );
    expect(() => inlineParameters('a = $2', ['x'])).toThrow('no value for parameter $2');
    expect(() => inlineParameters('a = $1', [{ x: 1 }])).toThrow('cannot be inlined');
    expect(inlineParameters('t = $1', [new Date('2026-12-07T00:00:00Z')])).toBe(
      `t = '2026-12-07T00:00:00.000Z'`,
    );
  });
});

/** A statement selecting `fields` from one row of nothing, and how often it was built. */
function probe<F extends Record<string, SQL>>(fields: F, name: string) {
  let built = 0;
  return {
    built: (): number => built,
    prepare: (db: Db) => {
      built++;
      return db
        .select(fields)
        .from(sql`(VALUES (1)) AS probe (x)`)
        .prepare(name);
    },
  };
}

describe('PlatformRead', () => {
  it('builds its statement once per connection and reads each time in the caller scope', async () => {
    const pool = poolOf(env.config.DATABASE_URL);
    const settings = probe(
      {
        u: sql<string>`current_setting('app.user_id')`,
        s: sql<string>`current_setting('app.system')`,
        v: sql<string>`${sql.placeholder('v')}::text`,
      },
      'probe',
    );
    const read = new PlatformRead(settings.prepare);
    const sent = countSent(pool);
    const first = await read.run(pool, { kind: 'user', userId: 'u-1' }, { v: `a'b` });
    const second = await read.run(pool, SYSTEM, { v: 'c' });
    const third = await read.run(pool, SYSTEM, { v: 'd' });
    expect([first, second, third]).toEqual([
      [{ u: 'u-1', s: 'off', v: `a'b` }],
      [{ u: '', s: 'on', v: 'c' }],
      [{ u: '', s: 'on', v: 'd' }],
    ]);
    // One pooled connection (DB_POOL_MAX 1): built once, one message per read, no named statement.
    expect(settings.built()).toBe(1);
    expect(sent).toHaveLength(3);
    const named = await readPlatform(pool, SYSTEM, (db) =>
      db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM pg_prepared_statements`),
    );
    expect(named.rows[0]?.n).toBe(0);
  });

  it('gives the connection back after a failed read', async () => {
    const pool = poolOf(env.config.DATABASE_URL);
    const failing = new PlatformRead(
      probe({ x: sql<number>`1 / ${sql.placeholder('d')}::int` }, 'failing').prepare,
    );
    await expect(failing.run(pool, SYSTEM, { d: 0 })).rejects.toThrow();
    expect(await failing.run(pool, SYSTEM, { d: 1 })).toEqual([{ x: 1 }]);
  });
});

describe('BuiltStatement', () => {
  it('is built once per pool, runs unnamed with its values, and answers each call', async () => {
    const pool = poolOf(env.config.DATABASE_URL);
    const values = probe(
      { v: sql<string>`${sql.placeholder('v')}::text`, n: sql<number>`${sql.placeholder('n')}::int` },
      'echo',
    );
    const echo = new BuiltStatement(values.prepare);
    const db = createDb(pool);
    expect(await echo.run(db, { v: `a'b`, n: 1 })).toEqual([{ v: `a'b`, n: 1 }]);
    expect(await echo.run(db, { v: 'c', n: 2 })).toEqual([{ v: 'c', n: 2 }]);
    expect(values.built()).toBe(1);
    const named = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_prepared_statements');
    expect(named.rows[0]?.n).toBe(0);
  });
});
