/**
 * A read of platform tables under row-level security (issue 15): a user's memberships joined with
 * their tenants (the query behind `me { memberships { tenant } }`) as one SELECT, through
 * `withPlatform` (BEGIN and the settings, the statement, COMMIT: three round trips), `readPlatform`
 * (the settings and the statement as one message) and `PlatformRead` (the same, the statement built by
 * drizzle once per connection), against the repository's `membershipsOf` (`PlatformRead` calling the
 * PL/pgSQL function `tenancy.memberships_of`, whose plan each connection keeps), alternating rounds,
 * on one pooled connection to the machine's PostgreSQL. CPU per read of this
 * process and of the PostgreSQL backend serving it (/proc), so the difference is not lost in the noise
 * of a whole platform. Then auth's user by id (what every `me` reads, no row-level security): drizzle
 * building the statement on each call against the repository's `BuiltStatement`. Its own database
 * (dropped afterwards). Run: `npx tsx bench/platform-read.ts
 * [rounds=7] [reads per round=3000] [tenants=50]`.
 */
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { asc, desc, eq, sql } from 'drizzle-orm';
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

type Side = 'withPlatform' | 'readPlatform' | 'PlatformRead' | 'memberships_of';

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

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/** CPU time (µs) of a process so far, from /proc/<pid>/stat (utime + stime, in clock ticks). */
function procCpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  // After "pid (comm) ": state is field 0, utime 11, stime 12 (clock ticks of 10 ms on Linux).
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

async function main(): Promise<void> {
  const [rounds = 7, n = 3000, tenantCount = 50] = process.argv.slice(2).map(Number);
  const env = await createTestEnv('platform_read');
  const pool = createPool({ ...env.config, DB_POOL_MAX: 1 }, env.config.DATABASE_URL, 'platform-read-bench');
  try {
    const repo = new TenantRepository(pool);
    const users: string[] = [];
    for (let i = 0; i < tenantCount; i++) {
      const userId = randomUUID();
      users.push(userId);
      await repo.createWithOwner(
        { id: randomUUID(), organizationName: `Bench ${i}`, template: 'trading', schemaName: `t_bench_${i}` },
        userId,
      );
    }
    const backend = await withPlatform(pool, { kind: 'system' }, async (_tx, client) => {
      const r = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      return r.rows[0]?.pid ?? 0;
    });
    // The join, run through each helper; then the repository's own path (the function, through
    // PlatformRead).
    const query = (db: Db, userId: string) => joinStatement(db).execute({ userId });
    const run: Record<Side, (scope: PlatformScope, userId: string) => Promise<unknown[]>> = {
      withPlatform: (scope, userId) => withPlatform(pool, scope, (tx) => query(tx, userId)),
      readPlatform: (scope, userId) => readPlatform(pool, scope, (db) => query(db, userId)),
      PlatformRead: (scope, userId) => JOIN_READ.run(pool, scope, { userId }),
      memberships_of: (_scope, userId) => repo.membershipsOf(userId),
    };
    const measure = async (side: Side, count: number): Promise<{ own: number; pg: number }> => {
      const own0 = process.cpuUsage();
      const pg0 = procCpuMicros(backend);
      for (let i = 0; i < count; i++) {
        const userId = users[i % users.length] ?? '';
        const rows = await run[side]({ kind: 'user', userId }, userId);
        if (rows.length !== 1) throw new Error(`expected one membership, got ${rows.length}`);
      }
      const own = process.cpuUsage(own0);
      return { own: (own.user + own.system) / count, pg: (procCpuMicros(backend) - pg0) / count };
    };
    const sides: Side[] = ['withPlatform', 'readPlatform', 'PlatformRead', 'memberships_of'];
    for (const side of sides) await measure(side, 500);
    const results = new Map<Side, { own: number; pg: number }[]>(sides.map((s) => [s, []]));
    for (let r = 0; r < rounds; r++) {
      for (const side of r % 2 === 0 ? sides : [...sides].reverse()) {
        results.get(side)?.push(await measure(side, n));
      }
    }
    console.log(`membershipsOf, ${tenantCount} users with one membership each, ${rounds} rounds of ${n}`);
    for (const side of sides) {
      const v = results.get(side) ?? [];
      console.log(
        `  ${side.padEnd(14)} client ${median(v.map((x) => x.own)).toFixed(0)} µs/read, ` +
          `PostgreSQL backend ${median(v.map((x) => x.pg)).toFixed(0)} µs/read (medians)`,
      );
    }

    // Auth's user by id: built on every call (as before) or once (UserRepository.findById).
    const db = createDb(pool);
    const userRepo = new UserRepository(db);
    const ids: string[] = [];
    for (let i = 0; i < tenantCount; i++) {
      ids.push((await userRepo.insert({ email: `bench-${i}@example.com`, passwordHash: null })).id);
    }
    type UserSide = 'built per call' | 'BuiltStatement';
    const byId: Record<UserSide, (id: string) => Promise<unknown>> = {
      'built per call': async (id) =>
        (await db.select().from(usersTable).where(eq(usersTable.id, id)).limit(1))[0],
      BuiltStatement: (id) => userRepo.findById(id),
    };
    const measureUser = async (side: UserSide, count: number): Promise<{ own: number; pg: number }> => {
      const own0 = process.cpuUsage();
      const pg0 = procCpuMicros(backend);
      for (let i = 0; i < count; i++) {
        if (!(await byId[side](ids[i % ids.length] ?? ''))) throw new Error('user not found');
      }
      const own = process.cpuUsage(own0);
      return { own: (own.user + own.system) / count, pg: (procCpuMicros(backend) - pg0) / count };
    };
    const userSides: UserSide[] = ['built per call', 'BuiltStatement'];
    for (const side of userSides) await measureUser(side, 500);
    const userResults = new Map<UserSide, { own: number; pg: number }[]>(userSides.map((x) => [x, []]));
    for (let r = 0; r < rounds; r++) {
      for (const side of r % 2 === 0 ? userSides : [...userSides].reverse()) {
        userResults.get(side)?.push(await measureUser(side, n));
      }
    }
    console.log(`auth's user by id, ${rounds} rounds of ${n}`);
    for (const side of userSides) {
      const v = userResults.get(side) ?? [];
      console.log(
        `  ${side.padEnd(15)} client ${median(v.map((x) => x.own)).toFixed(0)} µs/read, ` +
          `PostgreSQL backend ${median(v.map((x) => x.pg)).toFixed(0)} µs/read (medians)`,
      );
    }
  } finally {
    await pool.end();
    await env.cleanup();
  }
}

await main();
