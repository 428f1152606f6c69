/**
 * A read of platform tables under row-level security (issue 15): a user's memberships joined with
 * their tenants (the query behind `me { memberships { tenant } }`) as one SELECT, through
 * `withPlatform` (BEGIN and the settings, the statement, COMMIT: three round trips), `readPlatform`
 * (the settings and the statement as one message) and `PlatformRead` (the same, the statement built by
 * drizzle once per connection), against the repository's `membershipsOf` (`PlatformRead` calling the
 * PL/pgSQL function `tenancy.memberships_of`, whose plan each connection keeps), alternating rounds,
 * on one pooled connection to the machine's PostgreSQL. CPU per read of this
 * process and of the PostgreSQL backend serving it (/proc), so the difference is not lost in the noise
 * of a whole platform. Then a member's tenant and tenants (`findForMember`, `listForUser`: their joins
 * against the same function), and auth's user by id (what every `me` reads, no row-level security): drizzle
 * building the statement on each call against the repository's `BuiltStatement`. Its own database
 * (dropped afterwards). Run: `npx tsx bench/platform-read.ts
 * [rounds=7] [reads per round=3000] [tenants=50]`.
 */
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { and, asc, desc, eq, sql } from 'drizzle-orm';
import {
  createDb,
  createPool,
  PlatformRead,
  readPlatform,
  withPlatform,
  type Db,
  type PlatformScope,
} from '../lib/db.js';
import { users as usersTable } from '../subgraphs/auth/src/db/schema.js';
import { UserRepository } from '../subgraphs/auth/src/user.repository.js';
import { memberships, tenants } from '../subgraphs/tenants/src/db/schema.js';
import { TenantRepository } from '../subgraphs/tenants/src/tenant.repository.js';
import { createTestEnv } from '../test/support/env.js';

/**
 * The read as one SELECT joining the two tables: the repository's statement before the PL/pgSQL
 * function `tenancy.memberships_of` (migration 0005), which PostgreSQL planned on every read.
 */
const joinStatement = (db: Db) =>
  db
    .select({ tenant: tenants, membership: memberships })
    .from(memberships)
    .innerJoin(tenants, eq(tenants.id, memberships.tenantId))
    .where(eq(memberships.userId, sql.placeholder('userId')))
    .orderBy(desc(memberships.createdAt), asc(tenants.id));
const JOIN_READ = new PlatformRead((db) => joinStatement(db).prepare('bench_join'));

/** `findForMember` and `listForUser` before the function: their joins, built once per connection. */
const memberJoin = (db: Db) =>
  db
    .select({ tenant: tenants, membership: memberships })
    .from(tenants)
    .innerJoin(
      memberships,
      and(eq(memberships.tenantId, tenants.id), eq(memberships.userId, sql.placeholder('userId'))),
    );
const FIND_JOIN = new PlatformRead((db) =>
  memberJoin(db)
    .where(eq(tenants.id, sql.placeholder('tenantId')))
    .limit(1)
    .prepare('bench_find'),
);
const LIST_JOIN = new PlatformRead((db) =>
  memberJoin(db).orderBy(asc(tenants.createdAt), asc(tenants.id)).prepare('bench_list'),
);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/** CPU time (µs) of a process so far, from /proc/<pid>/stat (utime + stime, in clock ticks). */
function procCpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  // After "pid (comm) ": state is field 0, utime 11, stime 12 (clock ticks of 10 ms on Linux).
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** Fails unless a read found exactly one row (every user here has one membership): a list of one, or a row. */
function one(found: unknown): void {
  const count = Array.isArray(found) ? found.length : found === undefined ? 0 : 1;
  if (count !== 1) throw new Error(`expected one row, got ${count}`);
}

/**
 * Runs every side `n` times a round for `rounds` rounds, in alternating order (after a warm-up of
 * 500 each), and prints the median CPU per read of this process and of the PostgreSQL backend.
 * `read(i)` makes the i-th read of a side.
 */
async function compare(
  title: string,
  backend: number,
  rounds: number,
  n: number,
  sides: Record<string, (i: number) => Promise<void>>,
): Promise<void> {
  const names = Object.keys(sides);
  const measure = async (name: string, count: number): Promise<{ own: number; pg: number }> => {
    const read = sides[name];
    if (!read) throw new Error(`no side ${name}`);
    const own0 = process.cpuUsage();
    const pg0 = procCpuMicros(backend);
    for (let i = 0; i < count; i++) await read(i);
    const own = process.cpuUsage(own0);
    return { own: (own.user + own.system) / count, pg: (procCpuMicros(backend) - pg0) / count };
  };
  for (const name of names) await measure(name, 500);
  const results = new Map<string, { own: number; pg: number }[]>(names.map((x) => [x, []]));
  for (let r = 0; r < rounds; r++) {
    for (const name of r % 2 === 0 ? names : [...names].reverse()) {
      results.get(name)?.push(await measure(name, n));
    }
  }
  console.log(`${title}, ${rounds} rounds of ${n}`);
  const width = Math.max(...names.map((x) => x.length));
  for (const name of names) {
    const v = results.get(name) ?? [];
    console.log(
      `  ${name.padEnd(width)}  client ${median(v.map((x) => x.own)).toFixed(0)} µs/read, ` +
        `PostgreSQL backend ${median(v.map((x) => x.pg)).toFixed(0)} µs/read (medians)`,
    );
  }
}

async function main(): Promise<void> {
  const [rounds = 7, n = 3000, tenantCount = 50] = process.argv.slice(2).map(Number);
  const env = await createTestEnv('platform_read');
  const pool = createPool({ ...env.config, DB_POOL_MAX: 1 }, env.config.DATABASE_URL, 'platform-read-bench');
  try {
    const repo = new TenantRepository(pool);
    const users: string[] = [];
    const tenantIds: string[] = [];
    for (let i = 0; i < tenantCount; i++) {
      const userId = randomUUID();
      const tenantId = randomUUID();
      users.push(userId);
      tenantIds.push(tenantId);
      await repo.createWithOwner(
        { id: tenantId, organizationName: `Bench ${i}`, template: 'trading', schemaName: `t_bench_${i}` },
        userId,
      );
    }
    const backend = await withPlatform(pool, { kind: 'system' }, async (_tx, client) => {
      const r = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      return r.rows[0]?.pid ?? 0;
    });
    const byIndex = (i: number): { userId: string; tenantId: string } => {
      const k = i % users.length;
      return { userId: users[k] ?? '', tenantId: tenantIds[k] ?? '' };
    };
    const user = (userId: string): PlatformScope => ({ kind: 'user', userId });

    // The join, run through each helper; then the repository's own path (the function, through
    // PlatformRead).
    const query = (db: Db, userId: string) => joinStatement(db).execute({ userId });
    await compare(`membershipsOf, ${tenantCount} users with one membership each`, backend, rounds, n, {
      withPlatform: async (i) => {
        const { userId } = byIndex(i);
        return one(await withPlatform(pool, user(userId), (tx) => query(tx, userId)));
      },
      readPlatform: async (i) => {
        const { userId } = byIndex(i);
        return one(await readPlatform(pool, user(userId), (db) => query(db, userId)));
      },
      PlatformRead: async (i) => {
        const { userId } = byIndex(i);
        return one(await JOIN_READ.run(pool, user(userId), { userId }));
      },
      memberships_of: async (i) => one(await repo.membershipsOf(byIndex(i).userId)),
    });

    // The other reads for members (`tenant(id)`, `tenants`): their joins before, the function now.
    await compare(`a member's tenant and tenants`, backend, rounds, n, {
      'findForMember, join': async (i) => {
        const { userId, tenantId } = byIndex(i);
        return one(await FIND_JOIN.run(pool, user(userId), { userId, tenantId }));
      },
      'findForMember, function': async (i) => {
        const { userId, tenantId } = byIndex(i);
        return one(await repo.findForMember(userId, tenantId));
      },
      'listForUser, join': async (i) => {
        const { userId } = byIndex(i);
        return one(await LIST_JOIN.run(pool, user(userId), { userId }));
      },
      'listForUser, function': async (i) => one(await repo.listForUser(byIndex(i).userId)),
    });

    // Auth's user by id: built on every call (as before) or once (UserRepository.findById).
    const db = createDb(pool);
    const userRepo = new UserRepository(db);
    const ids: string[] = [];
    for (let i = 0; i < tenantCount; i++) {
      ids.push((await userRepo.insert({ email: `bench-${i}@example.com`, passwordHash: null })).id);
    }
    const id = (i: number): string => ids[i % ids.length] ?? '';
    await compare(`auth's user by id`, backend, rounds, n, {
      'built per call': async (i) =>
        one(
          (
            await db
              .select()
              .from(usersTable)
              .where(eq(usersTable.id, id(i)))
              .limit(1)
          ).slice(0, 1),
        ),
      BuiltStatement: async (i) => one(await userRepo.findById(id(i))),
    });
  } finally {
    await pool.end();
    await env.cleanup();
  }
}

await main();
