/**
 * PostgreSQL's share of one placement transaction, on one connection with nothing else in flight: the
 * transaction `trading-orders.ts` runs (prologue + `trading_open_session`, then `trading_flush_session`
 * + COMMIT) through the real SessionStore and pre-trade checks, market orders of 1 share filled at a
 * fixed quote, in batches of 1, 6 and 20; and its parts alone (prologue + COMMIT; + the session's
 * open). For each it prints round trips and statements per transaction, the backend's CPU (its own
 * process in /proc, so other databases' work on the machine does not count) per transaction and per
 * order, and this process's CPU (the pg client and the session's work). The batch of 6 runs again on a
 * connection with `synchronous_commit = off` to show what the WAL flush of each commit costs (a
 * measurement only: acknowledged orders are always committed durably).
 *
 * With `--parts`, what single pieces of the transaction cost (measurements only, on this bench's own
 * schema): the session's open without the clientOrderId lookup (its dynamic `EXECUTE`), and the batch
 * of 6 once the foreign keys of the per-order tables are dropped (their row-by-row RI checks).
 *
 * Run: `npx tsx bench/trading-sql.ts [transactions=300] [--parts] [--statements]`. Its own database;
 * stops by itself.
 */
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { createPool, withTenantRoundTrips, type TenantScope } from '../lib/db.js';
import { createRedis } from '../lib/redis.js';
import { createLogger } from '../lib/logger.js';
import {
  InstrumentCatalog,
  StaticInstrumentSource,
} from '../subgraphs/trading/src/market/instrument.catalog.js';
import { QuoteBook } from '../subgraphs/trading/src/market/quote.book.js';
import { pricingFrom, validateOrder } from '../subgraphs/trading/src/order.types.js';
import { PreTrade } from '../subgraphs/trading/src/pre-trade.js';
import { SessionStore } from '../subgraphs/trading/src/session.store.js';
import { TenantGate } from '../subgraphs/trading/src/tenant-gate.js';
import { createTestEnv } from '../test/support/env.js';
import { provisionTenants } from './trading-support.js';

/** CPU time (µs) of one process from /proc/<pid>/stat (utime + stime, in USER_HZ = 100 ticks). */
async function processCpu(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** Statements of a simple-protocol text: `;` outside quoted literals. */
function statements(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "'") quoted = !quoted;
    else if (c === ';' && !quoted) {
      out.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  const tail = text.slice(start).trim();
  if (tail) out.push(tail);
  return out;
}

interface Counted {
  pool: pg.Pool;
  backendPid: number;
  trips: number;
  statements: number;
  /** Statement heads of the last transaction (reset by the caller). */
  log: string[];
}

/** A one-connection pool whose queries are counted (round trips and statements). */
async function countedPool(url: string, options?: string): Promise<Counted> {
  const counted: Counted = {
    pool: new pg.Pool({
      connectionString: url,
      max: 1,
      idleTimeoutMillis: 0,
      ...(options ? { options } : {}),
    }),
    backendPid: 0,
    trips: 0,
    statements: 0,
    log: [],
  };
  counted.pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const text = typeof args[0] === 'string' ? args[0] : ((args[0] as { text?: string }).text ?? '');
      const parts = statements(text);
      counted.trips++;
      counted.statements += parts.length;
      counted.log.push(parts.map((s) => s.replace(/\s+/g, ' ').slice(0, 48)).join(' ; '));
      return query(...args);
    };
  });
  const r = await counted.pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  counted.backendPid = r.rows[0]?.pid ?? 0;
  return counted;
}

async function main(): Promise<void> {
  const transactions = Number(process.argv[2] ?? 300);
  const env = await createTestEnv('bench_trading_sql', { LOG_LEVEL: 'warn' });
  const redis = createRedis(env.config, 'commands', env.config.REDIS_PREFIX);
  const pools: pg.Pool[] = [];
  try {
    const [tenant] = await provisionTenants(env.config, 1, 1);
    if (!tenant) throw new Error('no tenant');
    const owner = createPool(env.config, env.config.DATABASE_OWNER_URL, 'bench-owner');
    // The orders bench's limits: no order-rate cap (it would reject after 600 a minute).
    await owner.query(
      `INSERT INTO "${tenant.schemaName}".risk_limits (account_id, allow_short_selling, max_orders_per_minute)
       VALUES ($1, true, 1000000)`,
      [tenant.accountId],
    );
    await owner.end();
    const scope: TenantScope = {
      tenantId: tenant.tenantId,
      schemaName: tenant.schemaName,
      userId: tenant.ownerId,
    };
    const pricing = pricingFrom(env.config);
    const catalog = new InstrumentCatalog(
      new StaticInstrumentSource([
        {
          symbol: 'AAPL',
          name: 'Apple Inc.',
          currency: 'USD',
          tickSize: '0.01',
          lotSize: '1',
          tradable: true,
        },
      ]),
      createLogger(env.config, 'bench'),
      Date.now,
    );
    await catalog.open(3_600_000);
    const quotes = new QuoteBook(redis);
    quotes.own('AAPL');
    const preTrade = new PreTrade(catalog, quotes, pricing);
    let k = 0;

    const place = (store: SessionStore, n: number) => async (): Promise<void> => {
      const now = Date.now();
      quotes.update({
        symbol: 'AAPL',
        price: '190.12',
        bid: '190.11',
        ask: '190.13',
        size: '100',
        ts: now,
        seq: k,
      });
      const intents = Array.from({ length: n }, () =>
        validateOrder({
          accountId: tenant.accountId,
          clientOrderId: `sql-${k++}`,
          symbol: 'AAPL',
          side: k % 2 === 0 ? 'BUY' : 'SELL',
          type: 'MARKET',
          quantity: '1',
        }),
      );
      const prepared = await preTrade.prepare('AAPL');
      await store.withSession(
        scope,
        {
          account: { id: tenant.accountId },
          lock: true,
          clientOrderIds: intents.map((i) => i.clientOrderId),
          now,
        },
        async (session) => {
          for (const intent of intents) {
            const decision = await preTrade.decide(session, intent, prepared, now, {
              submissions: session.countSubmission(),
            });
            const order = session.createOrder(intent, decision, { expiresAt: preTrade.expiryOf('DAY', now) });
            if (decision.rejection === null) preTrade.executeNow(session, order, prepared, now);
            else throw new Error(`rejected: ${decision.rejection.reason}`);
          }
        },
      );
    };

    const run = async (
      name: string,
      counted: Counted,
      orders: number,
      tx: () => Promise<void>,
    ): Promise<void> => {
      for (let i = 0; i < 30; i++) await tx();
      const pid = await counted.pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      counted.backendPid = pid.rows[0]?.pid ?? 0;
      counted.trips = 0;
      counted.statements = 0;
      const [b0, c0] = [await processCpu(counted.backendPid), process.cpuUsage()];
      for (let i = 0; i < transactions; i++) {
        counted.log = [];
        await tx();
      }
      const c1 = process.cpuUsage(c0);
      const backend = (await processCpu(counted.backendPid)) - b0;
      const node = c1.user + c1.system;
      const per = (v: number, n: number): string => (v / n).toFixed(0).padStart(6);
      console.log(
        `${name.padEnd(44)} ${(counted.trips / transactions).toFixed(1)} trips, ${(counted.statements / transactions).toFixed(1)} statements | backend ${per(backend, transactions)} µs/tx ${orders ? per(backend, transactions * orders) : '     -'} µs/order | this process ${per(node, transactions)} µs/tx ${orders ? per(node, transactions * orders) : '     -'} µs/order`,
      );
      if (process.argv.includes('--statements')) for (const line of counted.log) console.log(`    ${line}`);
    };

    const gateOf = (pool: pg.Pool) => ({ pool, gate: new TenantGate(4) });
    const durable = await countedPool(env.config.DATABASE_URL);
    const lazy = await countedPool(env.config.DATABASE_URL, '-c synchronous_commit=off');
    pools.push(durable.pool, lazy.pool);
    const store = new SessionStore(gateOf(durable.pool), pricing);

    console.log(`one connection, ${transactions} transactions each (after 30 to warm up)`);
    await run('prologue + COMMIT', durable, 0, async () => {
      await withTenantRoundTrips(durable.pool, scope, 'SELECT 1', () => Promise.resolve({ value: null }));
    });
    await run('prologue + session open + COMMIT', durable, 0, async () => {
      await store.withSession(
        scope,
        { account: { id: tenant.accountId }, lock: true, clientOrderIds: ['none'], now: Date.now() },
        () => undefined,
      );
    });
    for (const n of [1, 6, 20]) await run(`placement, ${n} order(s)`, durable, n, place(store, n));
    const lazyStore = new SessionStore(gateOf(lazy.pool), pricing);
    await run('placement, 6 orders, synchronous_commit off', lazy, 6, place(lazyStore, 6));
    if (process.argv.includes('--parts')) {
      // Alternated, so the machine's drift and the schema's warm-up fall on both.
      for (let i = 0; i < 3; i++) {
        await run('prologue + session open + COMMIT', durable, 0, async () => {
          await store.withSession(
            scope,
            { account: { id: tenant.accountId }, lock: true, clientOrderIds: ['none'], now: Date.now() },
            () => undefined,
          );
        });
        await run('prologue + session open, no clientOrderId lookup', durable, 0, async () => {
          await store.withSession(
            scope,
            { account: { id: tenant.accountId }, lock: true, now: Date.now() },
            () => undefined,
          );
        });
      }
      await run('placement, 6 orders (again, before the drop)', durable, 6, place(store, 6));
      const fks = [
        ['orders', 'orders_account_id_accounts_id_fk'],
        ['executions', 'executions_order_id_orders_id_fk'],
        ['executions', 'executions_account_id_accounts_id_fk'],
        ['order_events', 'order_events_order_id_orders_id_fk'],
        ['cash_ledger', 'cash_ledger_account_id_accounts_id_fk'],
        ['positions', 'positions_account_id_accounts_id_fk'],
        ['open_quantities', 'open_quantities_account_id_accounts_id_fk'],
      ];
      const ddl = createPool(env.config, env.config.DATABASE_OWNER_URL, 'bench-owner');
      for (const [table, fk] of fks)
        await ddl.query(`ALTER TABLE "${tenant.schemaName}".${table} DROP CONSTRAINT ${fk}`);
      await ddl.end();
      await run('placement, 6 orders, foreign keys dropped (*)', durable, 6, place(store, 6));
    }
    catalog.close();
  } finally {
    await Promise.all(pools.map((p) => p.end()));
    await redis.quit();
    await env.cleanup();
  }
}

await main();
