/**
 * The gateway's rate limits and cost budgets set far above any benchmark's load, for the benches that
 * build their configuration object in process (deployed-platform.ts's LIMITS_ABOVE_LOAD is the same
 * for the benches that pass variables to processes).
 */
import type { Config } from '../lib/config.js';

export const GATEWAY_LIMITS_OFF = {
  RATE_LIMIT_PER_IP: 1_000_000_000,
  RATE_LIMIT_PER_USER: 1_000_000_000,
  RATE_LIMIT_PER_TENANT: 1_000_000_000,
  COST_BUDGET_PER_TENANT: 1_000_000_000_000,
  COST_BUDGET_PER_IP: 1_000_000_000_000,
} as const satisfies Partial<Config>;
