/**
 * The whole platform's configuration: lib's kernel and every subgraph's section, validated in one
 * pass. `make dev`, `make cluster`, the k8s checks and the tests load this, so a bad variable of any
 * process is reported at start with all the others; each service's entry loads only its own section.
 */
import { analyticsConfig } from '../subgraphs/analytics/src/config.js';
import { authConfig } from '../subgraphs/auth/src/config.js';
import { marketDataConfig } from '../subgraphs/market-data/src/config.js';
import { sessionsConfig } from '../subgraphs/sessions/src/config.js';
import { tenantsConfig } from '../subgraphs/tenants/src/config.js';
import { tradingConfig } from '../subgraphs/trading/src/config.js';
import { ConfigError, configVariableNames, loadConfig, type ConfigWith } from '../lib/config.js';

/** Every subgraph's own section. */
export const PLATFORM_CONFIG_SECTIONS = [
  sessionsConfig,
  authConfig,
  tenantsConfig,
  tradingConfig,
  marketDataConfig,
  analyticsConfig,
] as const;

/** The kernel and every section: what any process of the platform may read. */
export type PlatformConfig = ConfigWith<typeof PLATFORM_CONFIG_SECTIONS>;

/** Validates the whole environment (default: the process's, with `.env`). */
export function loadPlatformConfig(env?: Record<string, string | undefined>): PlatformConfig {
  return loadConfig(env, ...PLATFORM_CONFIG_SECTIONS);
}

/** Every variable the platform reads (env.example must document each). */
export function platformVariableNames(): string[] {
  return configVariableNames(...PLATFORM_CONFIG_SECTIONS);
}

/** {@link loadPlatformConfig} for the run commands: every problem printed, then exit 1. */
export function loadPlatformConfigOrExit(): PlatformConfig {
  try {
    return loadPlatformConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    console.error('Run `make setup` to create .env, then fix the variables above (see env.example).');
    process.exit(1);
  }
}
