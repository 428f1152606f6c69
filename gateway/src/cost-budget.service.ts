/**
 * The cost budget: what one tenant's admitted operations may spend together per window (anonymous
 * callers: per client IP), in fixed windows shared by every gateway replica through Redis and
 * decided in memory (window-sync.counter.ts), so one tenant's heavy traffic is slowed without
 * touching another's. A refused operation spends nothing. Like the request rate limits, a budget also
 * holds over the burst window (RATE_LIMIT_BURST_SECONDS at RATE_LIMIT_BURST_FACTOR times its average
 * rate, never below MAX_QUERY_COST), so a window's budget cannot be spent in its first second.
 */
import type { Config } from '../../lib/config.js';
import { rateLimited, type AppError } from '../../lib/errors.js';
import { burstShare } from './rate-limit.service.js';
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
  /** The same budgets over the burst window; undefined when bursts are not limited. */
  private readonly bursts: { tenants: WindowCounter; anonymous: WindowCounter } | undefined;
  /** Burst budget per window budget: factor × burst / window. */
  private readonly burstShare: number;

  constructor(
    windows: WindowSync,
    private readonly config: Pick<
      Config,
      | 'COST_BUDGET_PER_TENANT'
      | 'COST_BUDGET_PER_IP'
      | 'COST_BUDGET_WINDOW_SECONDS'
      | 'MAX_QUERY_COST'
      | 'RATE_LIMIT_BURST_SECONDS'
      | 'RATE_LIMIT_BURST_FACTOR'
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
    const burst = config.RATE_LIMIT_BURST_SECONDS;
    const share = burstShare(config, duration);
    this.burstShare = share ?? 0;
    this.bursts =
      share !== undefined
        ? {
            tenants: windows.counter(
              'cost:burst:tenant',
              this.burstBudget(config.COST_BUDGET_PER_TENANT),
              burst,
            ),
            anonymous: windows.counter('cost:burst:ip', this.burstBudget(config.COST_BUDGET_PER_IP), burst),
          }
        : undefined;
  }

  /** What a window budget allows per burst window: never below MAX_QUERY_COST (see the constructor). */
  burstBudget(budget: number): number {
    return Math.max(this.config.MAX_QUERY_COST, Math.ceil(budget * this.burstShare));
  }

  /**
   * Spends `cost` from the subject's budget, over the window and the burst window, or refuses with
   * RATE_LIMITED (`retryAfter`: seconds until the refusing window reopens) and spends nothing from
   * either. Throws when the counters could not sync with Redis for a while (the request fails).
   */
  spend(subject: BudgetSubject, cost: number): AppError | undefined {
    const points = Math.ceil(cost);
    if (points <= 0) return undefined;
    const anonymous = !subject.tenantId;
    const key = subject.tenantId ?? subject.ip;
    const budget = anonymous
      ? this.config.COST_BUDGET_PER_IP
      : (subject.budget ?? this.config.COST_BUDGET_PER_TENANT);
    const who = anonymous ? 'client IP (anonymous)' : 'tenant';
    const window = anonymous ? this.anonymous : this.tenants;
    const burst = anonymous ? this.bursts?.anonymous : this.bursts?.tenants;
    const checks: [WindowCounter, number, number][] = [
      [window, budget, this.config.COST_BUDGET_WINDOW_SECONDS],
    ];
    if (burst) checks.push([burst, this.burstBudget(budget), this.config.RATE_LIMIT_BURST_SECONDS]);
    for (const [counter, limit, seconds] of checks) {
      const verdict = counter.wouldAllow(key, points, limit);
      if (verdict.allowed) continue;
      return rateLimited(
        verdict.msBeforeNext / 1000,
        `Query cost budget per ${who} exhausted (${limit} per ${seconds} s; this operation costs ${points})`,
        { limit: 'cost_budget', budget: limit, windowSeconds: seconds, cost: points },
      );
    }
    for (const [counter, limit] of checks) counter.consume(key, points, false, limit);
    return undefined;
  }
}
