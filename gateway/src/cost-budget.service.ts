/**
 * The cost budget: what one tenant's admitted operations may spend together per window (anonymous
 * callers: per client IP), in fixed windows shared by every gateway replica through Redis and
 * decided in memory (window-sync.counter.ts), so one tenant's heavy traffic is slowed without
 * touching another's. A refused operation spends nothing.
 */
import type { Config } from '../../lib/config.js';
import { rateLimited, type AppError } from '../../lib/errors.js';
import type { WindowCounter, WindowSync } from './window-sync.counter.js';

/** Who pays: the tenant of a verified token, else the client IP. */
export interface BudgetSubject {
  tenantId?: string | undefined;
  ip: string;
  /** The tenant's own budget per window (tenant-limits.ts), else COST_BUDGET_PER_TENANT. */
  budget?: number | undefined;
}

/** Budgets per tenant and per anonymous IP; `windows` syncs through the gateway's command client. */
export class CostBudget {
  private readonly tenants: WindowCounter;
  private readonly anonymous: WindowCounter;

  constructor(
    windows: WindowSync,
    private readonly config: Pick<
      Config,
      'COST_BUDGET_PER_TENANT' | 'COST_BUDGET_PER_IP' | 'COST_BUDGET_WINDOW_SECONDS' | 'MAX_QUERY_COST'
    >,
  ) {
    for (const [name, budget] of [
      ['COST_BUDGET_PER_TENANT', config.COST_BUDGET_PER_TENANT],
      ['COST_BUDGET_PER_IP', config.COST_BUDGET_PER_IP],
    ] as const) {
      // A budget below the largest admissible operation would refuse that operation forever.
      if (budget < config.MAX_QUERY_COST) {
        throw new Error(`${name} (${budget}) must be at least MAX_QUERY_COST (${config.MAX_QUERY_COST})`);
      }
    }
    const duration = config.COST_BUDGET_WINDOW_SECONDS;
    this.tenants = windows.counter('cost:tenant', config.COST_BUDGET_PER_TENANT, duration);
    this.anonymous = windows.counter('cost:ip', config.COST_BUDGET_PER_IP, duration);
  }

  /**
   * Spends `cost` from the subject's budget, or refuses with RATE_LIMITED (`retryAfter`: seconds
   * until the window reopens) and spends nothing. Throws when the counters could not sync with Redis
   * for a while (the request fails).
   */
  spend(subject: BudgetSubject, cost: number): AppError | undefined {
    const points = Math.ceil(cost);
    if (points <= 0) return undefined;
    const [limiter, key, budget, who] = subject.tenantId
      ? [this.tenants, subject.tenantId, subject.budget ?? this.config.COST_BUDGET_PER_TENANT, 'tenant']
      : [this.anonymous, subject.ip, this.config.COST_BUDGET_PER_IP, 'client IP (anonymous)'];
    const verdict = limiter.consume(key, points, false, budget);
    if (verdict.allowed) return undefined;
    const window = this.config.COST_BUDGET_WINDOW_SECONDS;
    return rateLimited(
      verdict.msBeforeNext / 1000,
      `Query cost budget per ${who} exhausted (${budget} per ${window} s; this operation costs ${points})`,
      { limit: 'cost_budget', budget, windowSeconds: window, cost: points },
    );
  }
}
