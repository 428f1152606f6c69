/**
 * Chaos: the whole cluster (scripts/cluster) under load through HAProxy's entry, and one part killed
 * with SIGKILL at a time (only processes the cluster started). After each kill: every acknowledged
 * order exists exactly once, filled at most once, and cash and positions reconcile; subscribers
 * receive ticks again; Redis failover keeps sessions; provisioning completes once; a backup killed
 * mid-upload is retried and leaves no partial file. The short form (default suite) runs lighter load
 * and four faults; CHAOS_FULL=1 (`make chaos`) the issue's load and all six. Recovery times are
 * printed as a table (docs/reliability.md).
 */
import { randomBytes } from 'node:crypto';
import { cp, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processEnv } from '../lib/config.js';
import { tenantSchemaName } from '../lib/db.js';
import {
  connectedTo,
  post,
  startTrader,
  subscribe,
  type Ack,
  type Subscriber,
} from './support/chaos-load.js';
import type { RunningCluster } from '../scripts/cluster/cluster.js';
import { startTestCluster, type TestCluster } from './support/cluster.js';
import { adminUrlOf, createTestEnv, createTestPool, type TestEnv } from './support/env.js';
import { runCommandEnv } from './support/run-command.js';
import { startTestSshd, type TestSshd } from './support/sshd.js';
import { eventually } from './support/wait.js';

const FULL = processEnv()['CHAOS_FULL'] === '1';
const LOAD = FULL
  ? { traders: 32, tenants: 4, priceSubscribers: 500 }
  : { traders: 4, tenants: 2, priceSubscribers: 20 };

const SETUP_MS = FULL ? 900_000 : 300_000;

const REGISTER = `mutation($input: RegisterInput!) { register(input: $input) { accessToken tenant { id } } }`;
const LOGIN = `mutation($input: LoginInput!) { login(input: $input) { accessToken tenant { id } } }`;
const PRICE = 'subscription { priceUpdated(symbols: ["AAPL"]) { symbol price } }';
const ORDER_UPDATED =
  'subscription($a: ID!) { orderUpdated(accountId: $a) { id status filledQuantity updatedAt } }';
const ACCOUNT = 'query { accounts { id cash positions { symbol quantity } } }';

interface Trader {
  token: string;
  tenantId: string;
  accountId: string;
}

let env: TestEnv;
let sshd: TestSshd;
let tc: TestCluster;
/** The cluster while it starts (stopped by afterAll even when the setup hook timed out). */
let starting: RunningCluster | undefined;
let admin: pg.Pool;
let url = '';
let wsUrl = '';
const owners: Trader[] = [];
const acks: Ack[] = [];
const priceSubs: Subscriber[] = [];
const orderSubs: Subscriber[] = [];
let traders: { stop(): Promise<void> }[] = [];
const recovery: { fault: string; ms: number; what: string }[] = [];
let registrations = 0;
/** Killed processes start again in the background while the next fault runs. */
const restarts: Promise<void>[] = [];
const restartLater = (name: string): void => {
  restarts.push(tc.cluster.restart(name));
};

async function register(label: string): Promise<{ token: string; tenantId: string }> {
  registrations += 1;
  const input = {
    email: `${label}-${registrations}@chaos.test`,
    password: 'correct horse battery staple',
    organizationName: label,
  };
  type Payload = { accessToken: string; tenant: { id: string } };
  // Retried as a client would. When an attempt committed but its answer was lost (a gateway died
  // mid-request), the retry gets CONFLICT (the email is taken): the client then signs in.
  const r = await eventually(
    async () => {
      const res = await post<{ register: Payload }>(url, REGISTER, { input });
      if (res?.data?.register) return res.data.register;
      if (res?.errors?.[0]?.extensions?.code !== 'CONFLICT') return undefined;
      const login = await post<{ login: Payload }>(url, LOGIN, {
        input: { email: input.email, password: input.password },
      });
      return login?.data?.login;
    },
    `registration ${label}`,
    60_000,
    250,
  );
  return { token: r.accessToken, tenantId: r.tenant.id };
}

async function accountsOf(token: string): Promise<{ id: string }[]> {
  return eventually(
    async () => {
      const r = await post<{ accounts: { id: string }[] }>(url, '{ accounts { id } }', {}, token);
      return r?.data?.accounts.length ? r.data.accounts : undefined;
    },
    'an active tenant with its paper account',
    60_000,
    250,
  );
}

/** Time from `since` until every price subscriber has a tick after it. */
async function ticksResumed(since: number): Promise<number> {
  await eventually(
    () => (priceSubs.every((s) => s.events.some((e) => e.at > since)) ? true : undefined),
    'every price subscriber receiving ticks again',
    30_000,
    50,
  );
  const gaps = priceSubs
    .map((s) => (s.events.find((e) => e.at > since)?.at ?? since) - since)
    .sort((a, b) => a - b);
  const q = (sorted: number[], p: number): number =>
    sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
  // Of the subscribers that reconnected: how long the socket took to be acknowledged again, and from
  // there to the first tick (subscribe, upstream, the next tick of AAPL).
  const reconnected = priceSubs.flatMap((s) => {
    const connected = s.connects.find((c) => c > since);
    const tick = s.events.find((e) => e.at > since)?.at;
    return connected !== undefined && tick !== undefined ? [[connected - since, tick - connected]] : [];
  });
  const toConnect = reconnected.map((r) => r[0] ?? 0).sort((a, b) => a - b);
  const toTick = reconnected.map((r) => r[1] ?? 0).sort((a, b) => a - b);
  // The spread says whether a few subscribers were slow or all of them (reported beside the maximum).
  console.log(
    `ticks again after ${since - startedAt} ms into the run: p50 ${q(gaps, 0.5)} ms, p90 ${q(gaps, 0.9)} ms, max ${q(gaps, 1)} ms over ${gaps.length} subscribers` +
      (reconnected.length > 0
        ? `; ${reconnected.length} reconnected: acknowledged after p50 ${q(toConnect, 0.5)} / p90 ${q(toConnect, 0.9)} / max ${q(toConnect, 1)} ms, then ticking after p50 ${q(toTick, 0.5)} / p90 ${q(toTick, 0.9)} / max ${q(toTick, 1)} ms`
        : ''),
  );
  return gaps.at(-1) ?? 0;
}

const startedAt = Date.now();

/** Time from `since` until an order is acknowledged again through the entry. */
async function ordersResumed(since: number): Promise<number> {
  const before = acks.length;
  await eventually(
    () => (acks.slice(before).some(() => true) ? true : undefined),
    'orders acknowledged again',
    60_000,
    50,
  );
  return Date.now() - since;
}

async function metric(port: number, name: string): Promise<number | undefined> {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`).then(
    (r) => r.text(),
    () => '',
  );
  // With or without labels (every service's metrics carry a default `service` label).
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : undefined;
}

beforeAll(async () => {
  env = await createTestEnv('chaos');
  sshd = await startTestSshd(env.tmpDir);
  const vars = await runCommandEnv(env, {
    ...sshd.env,
    LOG_LEVEL: 'warn',
    DB_POOL_MAX: '4',
    MARKET_FEED_SYMBOLS: 'AAPL,MSFT',
    MARKET_FEED_TICKS_PER_SECOND: '20',
    MARKET_FEED_LOCK_TTL_MS: '2000',
    TRADING_ENGINE_LOCK_TTL_MS: '2000',
    BACKUP_JOB_LOCK_MS: '4000',
    BACKUP_RETRY_DELAY_MS: '500',
    BACKUP_GZIP_LEVEL: '1',
    // A key of this run's own: the repository's keys/ exists only after `make setup`.
    BACKUP_ENCRYPTION_KEYS: `chaos:${randomBytes(32).toString('base64')}`,
    ARGON2_MEMORY_KIB: '8192',
    ARGON2_TIME_COST: '1',
    REGISTER_THROTTLE_PER_IP: '100000',
    TENANT_CREATE_THROTTLE_PER_IP: '100000',
    RATE_LIMIT_PER_IP: '1000000',
    RATE_LIMIT_PER_USER: '1000000',
    RATE_LIMIT_PER_TENANT: '1000000',
    SUBSCRIPTIONS_MAX_PER_IP: '100000',
    SUBSCRIPTIONS_MAX_PER_USER: '100000',
    SUBSCRIPTIONS_CONNECT_RATE_PER_IP: '100000',
    SUBSCRIPTIONS_SUBSCRIBE_RATE_PER_USER: '100000',
    MAX_QUERY_COST: '1000000',
    COST_BUDGET_PER_TENANT: '1000000000',
    COST_BUDGET_PER_IP: '1000000000',
    BACKUP_MANUAL_MAX_PER_DAY: '100000',
    MA130_CHECK_INTERVAL_MS: '3600000',
  });
  tc = await startTestCluster(env.tmpDir, vars, undefined, (c) => {
    starting = c;
  });
  admin = createTestPool(adminUrlOf(env.config), 2);
  url = `http://127.0.0.1:${tc.cluster.plan.ports.entry}/graphql`;
  wsUrl = url.replace('http:', 'ws:');

  for (let i = 0; i < LOAD.tenants; i++) {
    const { token, tenantId } = await register(`owner${i}`);
    const [account] = await accountsOf(token);
    owners.push({ token, tenantId, accountId: account?.id ?? '' });
  }
  for (let i = 0; i < LOAD.priceSubscribers; i++) {
    priceSubs.push(subscribe(wsUrl, owners[i % owners.length]?.token ?? '', PRICE, {}));
  }
  for (const o of owners) orderSubs.push(subscribe(wsUrl, o.token, ORDER_UPDATED, { a: o.accountId }));
  traders = Array.from({ length: LOAD.traders }, (_, i) => {
    const o = owners[i % owners.length] as Trader;
    return startTrader(url, o.token, o.accountId, `t${i}`, acks);
  });
  await ticksResumed(Date.now());
  await ordersResumed(Date.now());
  // 29 processes, then (full form) 500 subscribers: minutes on a busy 2-core machine.
}, SETUP_MS);

afterAll(async () => {
  await Promise.all(traders.map((t) => t.stop().catch(() => undefined)));
  await Promise.allSettled(restarts);
  await Promise.all([...priceSubs, ...orderSubs].map((s) => s.dispose().catch(() => undefined)));
  await admin?.end();
  await (tc?.cluster ?? starting)?.stop();
  // CHAOS_LOGS_DIR=<folder>: every process's log survives the run (the run's folder is removed).
  const keep = processEnv()['CHAOS_LOGS_DIR'];
  const plan = (tc?.cluster ?? starting)?.plan;
  if (keep && plan) {
    const into = path.join(keep, new Date().toISOString().replace(/[:.]/g, '-'));
    await cp(path.join(plan.paths.root, 'logs'), into, { recursive: true }).catch(() => undefined);
    console.log(`chaos: process logs kept in ${into}`);
  }
  await sshd?.stop();
  await env?.cleanup();
  if (recovery.length > 0) {
    console.log(
      `\nchaos (${FULL ? 'full' : 'short'} form) recovery times:\n${recovery.map((r) => `  ${r.fault.padEnd(34)} ${String(r.ms).padStart(6)} ms  (${r.what})`).join('\n')}`,
    );
  }
  // Stopping 29 processes in order, each given up to 10 s, on a busy machine.
}, 300_000);

describe(`chaos (${FULL ? 'full' : 'short'} form): one part killed at a time under load`, () => {
  it('a gateway: subscribers reconnect to the other one, orders go on, a registration provisions once', async () => {
    const at = Date.now();
    const registration = register('during-gateway-kill');
    await tc.cluster.kill('gateway-1');
    recovery.push({
      fault: 'gateway (SIGKILL)',
      ms: await ticksResumed(Date.now()),
      what: 'every subscriber ticking again',
    });
    await ordersResumed(at);
    const { token, tenantId } = await registration;
    expect(await accountsOf(token)).toHaveLength(1);
    // One tenant for the owner however often the request was retried, provisioned once (one account).
    const rows = await admin.query(
      `SELECT count(*)::int AS n FROM tenancy.memberships
        WHERE user_id = (SELECT user_id FROM tenancy.memberships WHERE tenant_id = $1 LIMIT 1)`,
      [tenantId],
    );
    expect(rows.rows[0]).toEqual({ n: 1 });
    restartLater('gateway-1');
  }, 120_000);

  it('a trading replica: orders are acknowledged again through the other one', async () => {
    await tc.cluster.kill('trading-1');
    const at = Date.now();
    recovery.push({
      fault: 'trading replica (SIGKILL)',
      ms: await ordersResumed(at),
      what: 'next order acknowledged',
    });
    restartLater('trading-1');
  }, 120_000);

  it.runIf(FULL)(
    'the market-data feed leader: the follower takes the feed over',
    async () => {
      const leader = await eventually(async () => {
        for (const name of ['market-data-1', 'market-data-2']) {
          const port = tc.cluster.plan.processes.find((p) => p.name === name)?.port ?? 0;
          if ((await metric(port, 'market_feed_leader')) === 1) return name;
        }
        return undefined;
      }, 'a feed leader');
      await tc.cluster.kill(leader);
      recovery.push({
        fault: 'market-data feed leader (SIGKILL)',
        ms: await ticksResumed(Date.now()),
        what: 'every subscriber ticking again',
      });
      restartLater(leader);
    },
    120_000,
  );

  it('the Redis primary: Sentinel promotes the replica, sessions survive', async () => {
    // One fault at a time: a replica still restarting after an earlier kill would meet a Redis with no
    // primary during its start and exit (an orchestrator would start it again).
    await Promise.all(restarts);
    await tc.cluster.kill('redis-1');
    const at = Date.now();
    recovery.push({
      fault: 'Redis primary (SIGKILL)',
      ms: await ordersResumed(at),
      what: 'next order acknowledged (sessions kept)',
    });
    recovery.push({
      fault: 'Redis primary, subscriptions',
      ms: await ticksResumed(at),
      what: 'every subscriber ticking again',
    });
    // The sessions made before the failover still work: no sign-in again. Right after it a request
    // may still be refused retryably (INTERNAL_SERVER_ERROR, 503 with Retry-After: the gateway's rate
    // limits not synced yet, a session not checked yet): that is retried, as a client would;
    // UNAUTHENTICATED is not. Measured after the orders and ticks above, so never below them.
    for (const o of owners) {
      const r = await eventually(
        async () => {
          const res = await post<{ accounts: unknown[] }>(url, '{ accounts { id } }', {}, o.token);
          return !res || res.errors?.[0]?.extensions?.code === 'INTERNAL_SERVER_ERROR' ? undefined : res;
        },
        'an authenticated query after the failover',
        30_000,
        100,
      );
      expect(r.errors).toBeUndefined();
    }
    recovery.push({
      fault: 'Redis primary, queries',
      ms: Date.now() - at,
      what: 'every owner answered with the old session',
    });
    restartLater('redis-1');
  }, 120_000);

  // Every service survives it (a checked-out pg client's lost connection used to kill the process:
  // subgraphs/trading/test/pgbouncer-restart.int.test.ts), and no replica is restarted here.
  it('PgBouncer, then restarted: orders go on once it is back', async () => {
    // Replicas still starting would exit on an unreachable database; this fault is about running ones.
    await Promise.all(restarts);
    await tc.cluster.kill('pgbouncer');
    const at = Date.now();
    await tc.cluster.restart('pgbouncer');
    recovery.push({
      fault: 'PgBouncer (SIGKILL, restarted)',
      ms: await ordersResumed(at),
      what: 'next order acknowledged after restart',
    });
    for (const p of tc.cluster.plan.processes) {
      if (p.kind !== 'node' || tc.cluster.pidOf(p.name) !== undefined) continue;
      const tail = (await tc.cluster.logOf(p.name)).split('\n').slice(-12).join('\n');
      expect.fail(`${p.name} is not alive after the PgBouncer kill; its log ends with:\n${tail}`);
    }
  }, 120_000);

  it.runIf(FULL)(
    'a tenants worker mid-backup: the job is retried and completes, no partial file is left',
    async () => {
      const owner = owners[0] as Trader;
      const sshPort = Number(sshd.env['MA130_PORT']);
      const BACKUP = 'mutation($t: ID!) { backupTenant(tenantId: $t) { id } }';
      const inFlight = async (): Promise<number> =>
        (
          await admin.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM tenancy.backups WHERE tenant_id = $1 AND status NOT IN ('VERIFIED', 'FAILED')`,
            [owner.tenantId],
          )
        ).rows[0]?.n ?? 0;
      // A small tenant uploads in moments: request backups until one is caught with its SFTP session open.
      let victim: string | undefined;
      let requested = 0;
      const refusals = new Map<string, number>();
      const until = Date.now() + 90_000;
      let checkedAt = 0;
      while (!victim && Date.now() < until) {
        if (Date.now() - checkedAt > 200) {
          checkedAt = Date.now();
          if ((await inFlight()) === 0) {
            const r = await post<{ backupTenant: { id: string } }>(
              url,
              BACKUP,
              { t: owner.tenantId },
              owner.token,
            );
            const code = r?.errors?.[0]?.extensions?.code;
            if (r?.data?.backupTenant) requested++;
            else refusals.set(String(code), (refusals.get(String(code)) ?? 0) + 1);
          }
        }
        for (const name of ['tenants-worker-1', 'tenants-worker-2']) {
          const pid = tc.cluster.pidOf(name);
          if (pid && (await connectedTo(pid, sshPort))) victim = name;
        }
      }
      if (!victim) {
        const states = await admin.query<{ status: string; n: number; error: string | null }>(
          `SELECT status, count(*)::int AS n, max(error) AS error FROM tenancy.backups WHERE tenant_id = $1 GROUP BY status`,
          [owner.tenantId],
        );
        throw new Error(
          `no tenants worker was caught uploading (${requested} backups requested; by state ${JSON.stringify(states.rows)}; refused: ${JSON.stringify(Object.fromEntries(refusals))})`,
        );
      }
      await tc.cluster.kill(victim);
      const at = Date.now();
      await eventually(
        async () => ((await inFlight()) === 0 ? true : undefined),
        'the interrupted backup finished',
        120_000,
        200,
      );
      recovery.push({
        fault: 'tenants worker mid-backup (SIGKILL)',
        ms: Date.now() - at,
        what: 'backup VERIFIED by the other worker',
      });
      const rows = await admin.query<{ status: string; path: string; size_bytes: string }>(
        `SELECT status, path, size_bytes FROM tenancy.backups WHERE tenant_id = $1`,
        [owner.tenantId],
      );
      expect(rows.rows.every((r) => r.status === 'VERIFIED')).toBe(true);
      // The MA130 also holds the other tenants' backups (every registration takes an INITIAL one).
      const verified = await admin.query<{ path: string; size_bytes: string }>(
        `SELECT path, size_bytes FROM tenancy.backups WHERE status = 'VERIFIED'`,
      );
      // Only complete files, each matching its metadata; no temporary upload is left behind.
      // Each backup is its encrypted dump and the authenticated manifest beside it, nothing else.
      const all = await listFiles(sshd.root);
      const MANIFEST = '.manifest.json';
      expect(all.filter((f) => !f.endsWith('.sql.gz.enc') && !f.endsWith(`.sql.gz.enc${MANIFEST}`))).toEqual(
        [],
      );
      const files = all.filter((f) => f.endsWith('.sql.gz.enc'));
      expect(
        all
          .filter((f) => f.endsWith(MANIFEST))
          .map((f) => f.slice(0, -MANIFEST.length))
          .sort(),
      ).toEqual([...files].sort());
      expect(files).toHaveLength(verified.rows.length);
      for (const r of verified.rows) {
        const file = files.find((f) => f.endsWith(path.basename(r.path)));
        expect(file, r.path).toBeDefined();
        expect((await stat(file ?? '')).size).toBe(Number(r.size_bytes));
      }
      restartLater(victim);
    },
    240_000,
  );

  it('after every fault: each acknowledged order exists once, filled at most once; cash and positions reconcile', async () => {
    await Promise.all(traders.map((t) => t.stop()));
    traders = [];
    await Promise.all(restarts);
    expect(acks.length).toBeGreaterThan(0);
    // Let fills of the last orders commit.
    await new Promise((r) => setTimeout(r, 1000));
    for (const o of owners) {
      const r = await post<{
        accounts: { id: string; cash: string; positions: { symbol: string; quantity: string }[] }[];
      }>(url, ACCOUNT, {}, o.token);
      expect(r?.errors).toBeUndefined();
      const account = r?.data?.accounts.find((a) => a.id === o.accountId);
      expect(account).toBeDefined();
      // Every order from the database: the API pages at most 500 per account, and the full form places more.
      const { rows: orders } = await admin.query<{
        id: string;
        clientOrderId: string;
        quantity: string;
        filledQuantity: string;
        averageFillPrice: string | null;
      }>(
        `SELECT id, client_order_id AS "clientOrderId", quantity::text, filled_quantity::text AS "filledQuantity",
                average_fill_price::text AS "averageFillPrice"
           FROM ${tenantSchemaName(o.tenantId)}.orders WHERE account_id = $1`,
        [o.accountId],
      );
      const byClientId = new Map<string, number>();
      for (const order of orders)
        byClientId.set(order.clientOrderId, (byClientId.get(order.clientOrderId) ?? 0) + 1);
      for (const ack of acks.filter((a) => a.accountId === o.accountId)) {
        expect(byClientId.get(ack.clientOrderId), ack.clientOrderId).toBe(1);
        expect(orders.find((x) => x.clientOrderId === ack.clientOrderId)?.id).toBe(ack.orderId);
      }
      expect([...byClientId.values()].every((n) => n === 1)).toBe(true);
      let filled = 0;
      let spent = 0;
      for (const order of orders) {
        expect(Number(order.filledQuantity)).toBeLessThanOrEqual(Number(order.quantity));
        filled += Number(order.filledQuantity);
        spent += Number(order.filledQuantity) * Number(order.averageFillPrice ?? 0);
      }
      const position = account?.positions.find((p) => p.symbol === 'AAPL');
      expect(Number(position?.quantity ?? 0)).toBe(filled);
      expect(Number(account?.cash)).toBeCloseTo(100_000 - spent, 2);
    }
    // orderUpdated: no event delivered twice (each change carries id, status, filled quantity, updatedAt).
    for (const s of orderSubs) {
      const keys = s.events.map((e) => JSON.stringify(e.data['orderUpdated']));
      expect(new Set(keys).size).toBe(keys.length);
    }
  }, 120_000);
});

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(p)));
    else out.push(p);
  }
  return out;
}
