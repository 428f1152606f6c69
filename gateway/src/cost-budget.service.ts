/**
 * The cost budget: what one tenant's admitted operations may spend together per window (anonymous
 * callers: per client IP), in Redis through rate-limiter-flexible, so every gateway instance shares
 * it and one tenant's heavy traffic is slowed without touching another's. rate-limiter-flexible
 * counts in fixed windows; a refused operation is given its points back at once, so only admitted
 * operations spend.
 */
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../../lib/config.js';
import { rateLimited, type AppError } from '../../lib/errors.js';
import type { Redis } from '../../lib/redis.js';

/** Who pays: the tenant of a verified token, else the client IP. */
export interface BudgetSubject {
  tenantId?: string | undefined;
  ip: string;
}

/** Budgets per tenant and per anonymous IP; `redis` is the gateway's command client (its prefix applies). */
export class CostBudget {
  private readonly tenants: RateLimiterRedis;
  private readonly anonymous: RateLimiterRedis;

  constructor(
    redis: Redis,
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
    this.tenants = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: 'cost:tenant',
      points: config.COST_BUDGET_PER_TENANT,
      duration,
    });
    this.anonymous = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: 'cost:ip',
      points: config.COST_BUDGET_PER_IP,
      duration,
    });
  }

  /**
   * Spends `cost` from the subject's budget, or refuses with RATE_LIMITED (`retryAfter`: seconds
   * until the window reopens) and spends nothing. Redis errors propagate (the request fails).
   */
  async spend(subject: BudgetSubject, cost: number): Promise<AppError | undefined> {
    const points = Math.ceil(cost);
    if (points <= 0) return undefined;
    const [limiter, key, budget, who] = subject.tenantId
      ? [this.tenants, subject.tenantId, this.config.COST_BUDGET_PER_TENANT, 'tenant']
      : [this.anonymous, subject.ip, this.config.COST_BUDGET_PER_IP, 'client IP (anonymous)'];
    try {
      await limiter.consume(key, points);
      return undefined;
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      await limiter.reward(key, points);
      const window = this.config.COST_BUDGET_WINDOW_SECONDS;
      return rateLimited(
        err.msBeforeNext / 1000,
        `Query cost budget per ${who} exhausted (${budget} per ${window} s; this operation costs ${points})`,
        { limit: 'cost_budget', budget, windowSeconds: window, cost: points },
      );
    }
  }
}
