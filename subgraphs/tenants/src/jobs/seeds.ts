/**
 * Seeds named by templates (`"seeds": [...]`). Each runs inside withTenant (tenant role, search_path =
 * the tenant schema), so it can only touch that tenant's tables, and each is safe to run twice.
 *
 * The SQL names the template's tables (owned by the trading subgraph) without importing trading's
 * source: the table shapes are part of the template contract, checked by the provisioning tests.
 */
import type { TenantsConfig } from '../config.js';
import type { PoolClient } from '../../../../lib/db.js';

export const SEED_NAMES = ['paper-account'] as const;
export type SeedName = (typeof SEED_NAMES)[number];

type Seed = (client: PoolClient, config: Pick<TenantsConfig, 'PAPER_STARTING_CASH'>) => Promise<void>;

const SEEDS: Record<SeedName, Seed> = {
  // One paper account with the configured starting cash, funded by an opening deposit in the ledger.
  'paper-account': async (client, config) => {
    const existing = await client.query('SELECT 1 FROM accounts LIMIT 1');
    if (existing.rowCount) return;
    const account = await client.query<{ id: string }>(
      `INSERT INTO accounts (name, currency, cash) VALUES ('Paper Trading', 'USD', $1) RETURNING id`,
      [config.PAPER_STARTING_CASH],
    );
    await client.query(`INSERT INTO cash_ledger (account_id, kind, amount) VALUES ($1, 'deposit', $2)`, [
      account.rows[0]?.id,
      config.PAPER_STARTING_CASH,
    ]);
  },
};

/** Runs one seed (the caller holds the tenant's advisory lock, so two runs never race). */
export async function runSeed(
  name: SeedName,
  client: PoolClient,
  config: Pick<TenantsConfig, 'PAPER_STARTING_CASH'>,
): Promise<void> {
  await SEEDS[name](client, config);
}
