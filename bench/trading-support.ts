/**
 * Shared by the trading benchmarks: tenants provisioned with the tenants worker's own provisioning
 * function (role, schema, template migrations, paper account), several at a time.
 */
import { randomUUID } from 'node:crypto';
import type { PlatformConfig } from '../scripts/platform-config.js';
import { createPool } from '../lib/db.js';
import { createTestProvisioner, paperAccountOf } from '../test/support/tenants.js';

export interface BenchTenant {
  tenantId: string;
  schemaName: string;
  ownerId: string;
  accountId: string;
}

/** Provisions `n` tenants (`concurrency` at a time) and returns them with their paper account. */
export async function provisionTenants(
  config: PlatformConfig,
  n: number,
  concurrency = 4,
): Promise<BenchTenant[]> {
  const ownerPool = createPool(config, config.DATABASE_OWNER_URL, 'bench-owner');
  const appPool = createPool(config, config.DATABASE_URL, 'bench-app');
  const tenants = createTestProvisioner(config, { ownerPool, appPool }, 'bench');
  const out: BenchTenant[] = [];
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < n) {
          next++;
          const tenantId = randomUUID();
          const t = await tenants.provision({ tenantId, organizationName: `Bench ${tenantId.slice(0, 8)}` });
          out.push({ ...t, accountId: await paperAccountOf(ownerPool, t.schemaName) });
        }
      }),
    );
  } finally {
    await Promise.all([ownerPool.end(), appPool.end()]);
  }
  return out;
}

/** The p-th percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** The `PlaceOrderInput` of the order benchmarks' load: one AAPL share at market. */
export interface MarketOrderInput {
  accountId: string;
  clientOrderId: string;
  symbol: 'AAPL';
  side: 'BUY' | 'SELL';
  type: 'MARKET';
  quantity: '1';
}

/** A market order of one AAPL share: a buy for an even `n`, a sell for an odd one (sides alternate). */
export function marketOrderInput(accountId: string, clientOrderId: string, n: number): MarketOrderInput {
  return {
    accountId,
    clientOrderId,
    symbol: 'AAPL',
    side: n % 2 === 0 ? 'BUY' : 'SELL',
    type: 'MARKET',
    quantity: '1',
  };
}
