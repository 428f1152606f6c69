/**
 * Resting order book (issue 5): 50,000 resting limit orders across 100 tenants (500 each, one symbol,
 * placed through the order service: checks, reservations, events); a price move that crosses 1,000 of
 * them (10 per tenant): time until all are filled and committed (target: under 1 second). Also prints
 * the time the engine needs to rebuild its index of the 50,000 orders from the database at start.
 *
 * Run: `npx tsx bench/trading-book.ts [tenants=100] [ordersPerTenant=500] [crossedPerTenant=10]`.
 * Uses its own database and Redis prefix (test support), loopback only, and stops by itself.
 */
import os from 'node:os';
import pg from 'pg';
import { Dec } from '../subgraphs/trading/src/decimal.js';
import { createTradingService, type TradingService } from '../subgraphs/trading/src/service.js';
import { StaticInstrumentSource } from '../subgraphs/trading/src/market/instrument.catalog.js';
import { scopeOf } from '../subgraphs/trading/src/tenant-scope.js';
import { createTestEnv, freePorts } from '../test/support/env.js';
import { provisionTenants } from './trading-support.js';

const tenantCount = Number(process.argv[2] ?? 100);
const perTenant = Number(process.argv[3] ?? 500);
const crossedPerTenant = Number(process.argv[4] ?? 10);

const CATALOG = new StaticInstrumentSource([
  { symbol: 'AAPL', name: 'Apple Inc.', currency: 'USD', tickSize: '0.01', lotSize: '1', tradable: true },
]);

async function main(): Promise<void> {
  const [port] = await freePorts(1);
  const env = await createTestEnv('bench_trading_book', {
    LOG_LEVEL: 'warn',
    DB_POOL_MAX: '16',
    TRADING_PORT: String(port),
    TRADING_FILL_CONCURRENCY: '12',
    TRADING_EXPIRY_INTERVAL_MS: '3600000',
  });
  let svc: TradingService | undefined;
  try {
    const t0 = performance.now();
    const tenants = await provisionTenants(env.config, tenantCount, 6);
    console.log(`provisioned ${tenants.length} tenants in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const deps = { sessions: null, instruments: CATALOG };
    svc = createTradingService(env.config, deps);
    await svc.start();
    await svc.runtime().engine!.ingest(tick('100.00', '99.99', '100.01'));

    // Limits 99.99, 99.98, ... per tenant: the first `crossedPerTenant` are at or above 99.90.
    const t1 = performance.now();
    const orders = svc.runtime().orders;
    let next = 0;
    // Round-robin over tenants: orders of one account serialize on its row lock.
    const jobs = Array.from({ length: perTenant }, (_x, i) => tenants.map((t) => ({ t, i }))).flat();
    await Promise.all(
      Array.from({ length: 24 }, async () => {
        while (next < jobs.length) {
          const { t, i } = jobs[next++] as (typeof jobs)[number];
          const caller = {
            auth: {
              userId: t.ownerId,
              sessionId: 'bench',
              tenantId: t.tenantId,
              role: 'OWNER' as const,
              platformAdmin: false,
              email: '',
              expiresAt: 0,
            },
            scope: scopeOf({
              userId: t.ownerId,
              sessionId: 'bench',
              tenantId: t.tenantId,
              role: 'OWNER',
              platformAdmin: false,
              email: '',
              expiresAt: 0,
            }),
          };
          const o = await orders.place(caller, {
            accountId: t.accountId,
            clientOrderId: `seed-${i}`,
            symbol: 'AAPL',
            side: 'BUY',
            type: 'LIMIT',
            quantity: '1',
            limitPrice: new Dec('99.99').sub(new Dec('0.01').mul(i)).toFixed(2),
            timeInForce: 'GTC',
          });
          if (o.status !== 'NEW') throw new Error(`seed order ${o.status} ${o.rejectReason ?? ''}`);
        }
      }),
    );
    const placed = performance.now() - t1;
    console.log(
      `placed ${jobs.length} resting limit orders in ${(placed / 1000).toFixed(1)} s (${((jobs.length * 1000) / placed).toFixed(0)} orders/s, in-process, 24 at a time)`,
    );

    // Restart: the index is rebuilt from the database.
    await svc.stop();
    svc = createTradingService(env.config, deps);
    const t2 = performance.now();
    await svc.start();
    const rebuild = performance.now() - t2;
    const engine = svc.runtime().engine!;
    console.log(
      `restart: engine index of ${engine.restingCount()} orders rebuilt in ${rebuild.toFixed(0)} ms (service start included)`,
    );
    if (engine.restingCount() !== jobs.length) throw new Error('orders missing after the rebuild');
    await engine.ingest(tick('100.00', '99.99', '100.01'));

    // The price move: ask 99.90 crosses every limit >= 99.90.
    const t3 = performance.now();
    await engine.ingest(tick('99.89', '99.88', (99.99 - (crossedPerTenant - 1) * 0.01).toFixed(2)));
    const crossTime = performance.now() - t3;

    let filled = 0;
    // The owner role reads every tenant schema (the app role cannot, outside withTenant).
    const pool = new pg.Pool({ connectionString: env.config.DATABASE_OWNER_URL, max: 2 });
    for (const t of tenants) {
      const r = await pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM "${t.schemaName}".orders WHERE status = 'FILLED'`,
      );
      filled += r.rows[0]?.n ?? 0;
    }
    await pool.end();
    const expected = tenants.length * crossedPerTenant;
    console.log(
      `price move crossing ${expected} of ${jobs.length} resting orders (${tenants.length} tenants): all filled and committed in ${crossTime.toFixed(0)} ms (target < 1000 ms)`,
    );
    console.log(
      `  filled in the database: ${filled} (expected ${expected}); still resting in the index: ${engine.restingCount()}`,
    );
    console.log(
      `  ${os.cpus().length} CPUs, load average ${os.loadavg()[0]?.toFixed(1)}, TRADING_FILL_CONCURRENCY=${env.config.TRADING_FILL_CONCURRENCY}, DB_POOL_MAX=${env.config.DB_POOL_MAX}`,
    );
    if (filled !== expected) process.exitCode = 1;
  } finally {
    await svc?.stop();
    await env.cleanup();
  }
}

let seq = 0;
function tick(price: string, bid: string, ask: string) {
  return { symbol: 'AAPL', price, bid, ask, size: '100', ts: Date.now(), seq: ++seq };
}

await main();
