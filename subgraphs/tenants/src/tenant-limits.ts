/**
 * A tenant's plan: the gateway's request limits of one tenant, per minute. The overrides live on the
 * tenant row (NULL: the platform default); platform administrators set them with `setTenantLimits`,
 * after which the tenant id is published on `channels.tenantLimitsChanged` so the gateway drops its
 * cached copy. The gateway reads the raw overrides from `GET /internal/tenants/:id/limits`.
 */
import type { AuthClaims } from '../../../lib/auth.js';
import type { Config } from '../../../lib/config.js';
import { badInput, forbidden, notFound } from '../../../lib/errors.js';
import type { Logger } from '../../../lib/logger.js';
import { channels } from '../../../contracts/redis-names.js';
import type { TenantRow } from './db/schema.js';
import { isUuid } from './jobs/queues.js';
import { SYSTEM, type TenantLimitsPatch, type TenantRepository } from './tenant.repository.js';

/** The limit fields, in their GraphQL names (also the names `overridden` lists). */
export const LIMIT_FIELDS = ['requestsPerMinute', 'requestsPerMinutePerUser', 'costPerMinute'] as const;
export type LimitField = (typeof LIMIT_FIELDS)[number];

/** Bounds of an override (inclusive). */
export const LIMIT_MIN = 1;
export const LIMIT_MAX = 100_000_000;

/** One tenant's overrides as stored: null follows the platform default. */
export type TenantLimitOverrides = Record<LimitField, number | null>;

/** Effective limits of a tenant (GraphQL `TenantLimits`). */
export interface TenantLimitsView extends Record<LimitField, number> {
  /** Fields the tenant has an override for. */
  overridden: LimitField[];
}

/** The configuration the limits depend on: the gateway's defaults and the publish channel's prefix. */
export type TenantLimitsConfig = Pick<
  Config,
  | 'RATE_LIMIT_PER_TENANT'
  | 'RATE_LIMIT_PER_USER'
  | 'RATE_LIMIT_WINDOW_SECONDS'
  | 'COST_BUDGET_PER_TENANT'
  | 'COST_BUDGET_WINDOW_SECONDS'
  | 'MAX_QUERY_COST'
  | 'REDIS_PREFIX'
>;

/** What setTenantLimits receives: an omitted field (undefined) stays, null resets, a number sets. */
export type TenantLimitsInput = Partial<Record<LimitField, number | null | undefined>>;

/** Where the change is announced (a Redis command connection; pub/sub ignores keyPrefix). */
export interface LimitsPublisher {
  publish(channel: string, message: string): Promise<unknown>;
}

/** `value` per `windowSeconds`, scaled to a minute. */
const perMinute = (value: number, windowSeconds: number): number => Math.round((value * 60) / windowSeconds);

/** The platform defaults per minute, from the gateway's configuration. */
export function defaultTenantLimits(config: TenantLimitsConfig): Record<LimitField, number> {
  return {
    requestsPerMinute: perMinute(config.RATE_LIMIT_PER_TENANT, config.RATE_LIMIT_WINDOW_SECONDS),
    requestsPerMinutePerUser: perMinute(config.RATE_LIMIT_PER_USER, config.RATE_LIMIT_WINDOW_SECONDS),
    costPerMinute: perMinute(config.COST_BUDGET_PER_TENANT, config.COST_BUDGET_WINDOW_SECONDS),
  };
}

/** The overrides stored on a tenant row. */
export function limitOverrides(tenant: TenantRow): TenantLimitOverrides {
  return {
    requestsPerMinute: tenant.requestsPerMinute,
    requestsPerMinutePerUser: tenant.requestsPerMinutePerUser,
    costPerMinute: tenant.costPerMinute,
  };
}

export class TenantLimitsService {
  private readonly defaults: Record<LimitField, number>;

  constructor(
    private readonly config: TenantLimitsConfig,
    private readonly repo: TenantRepository,
    private readonly publisher: LimitsPublisher,
    private readonly logger: Logger,
  ) {
    this.defaults = defaultTenantLimits(config);
  }

  /** Effective limits of a tenant row: its overrides, else the defaults. */
  effective(tenant: TenantRow): TenantLimitsView {
    const overrides = limitOverrides(tenant);
    const view: TenantLimitsView = { ...this.defaults, overridden: [] };
    for (const field of LIMIT_FIELDS) {
      const value = overrides[field];
      if (value !== null) {
        view[field] = value;
        view.overridden.push(field);
      }
    }
    return view;
  }

  /** Internal (the gateway): the raw overrides of a tenant, or undefined for an unknown one. */
  async overrides(tenantId: string): Promise<TenantLimitOverrides | undefined> {
    if (!isUuid(tenantId)) return undefined;
    const tenant = await this.repo.findById(SYSTEM, tenantId.toLowerCase());
    return tenant ? limitOverrides(tenant) : undefined;
  }

  /**
   * setTenantLimits: platform administrators only (a tenant, even its OWNER, must not raise its own
   * limits). Validates every field before one UPDATE, then publishes the tenant id; a failed publish
   * is logged, not thrown (the gateway's cache also expires).
   * @throws FORBIDDEN for anyone else, NOT_FOUND for an unknown tenant, BAD_USER_INPUT for a value out
   *   of range or a cost budget that could not pay for the largest admissible query (nothing written)
   */
  async set(caller: AuthClaims, tenantId: string, input: TenantLimitsInput): Promise<TenantRow> {
    if (!caller.platformAdmin) throw forbidden("Only a platform administrator may change a tenant's limits");
    if (!isUuid(tenantId)) throw notFound('Tenant');
    const id = tenantId.toLowerCase();
    const patch = this.validate(input);
    if (Object.keys(patch).length === 0) {
      const tenant = await this.repo.findById(SYSTEM, id);
      if (!tenant) throw notFound('Tenant');
      return tenant;
    }
    const tenant = await this.repo.setLimits(id, patch);
    if (!tenant) throw notFound('Tenant');
    this.logger.info({ tenantId: id, limits: limitOverrides(tenant) }, 'tenant limits changed');
    try {
      await this.publisher.publish(channels.tenantLimitsChanged(this.config.REDIS_PREFIX), id);
    } catch (err) {
      this.logger.warn({ err, tenantId: id }, 'could not publish the tenant limits change');
    }
    return tenant;
  }

  /** The fields to write, or BAD_USER_INPUT naming the first invalid one. */
  private validate(input: TenantLimitsInput): TenantLimitsPatch {
    const patch: TenantLimitsPatch = {};
    for (const field of LIMIT_FIELDS) {
      const value = input[field];
      if (value === undefined) continue;
      if (value !== null && (!Number.isInteger(value) || value < LIMIT_MIN || value > LIMIT_MAX)) {
        throw badInput(`${field} must be an integer from ${LIMIT_MIN} to ${LIMIT_MAX}`, {
          field,
          min: LIMIT_MIN,
          max: LIMIT_MAX,
        });
      }
      patch[field] = value;
    }
    const cost = patch.costPerMinute;
    if (cost !== undefined && cost !== null) {
      const { COST_BUDGET_WINDOW_SECONDS: window, MAX_QUERY_COST: maxQueryCost } = this.config;
      const perWindow = Math.floor((cost * window) / 60);
      if (perWindow < maxQueryCost) {
        throw badInput(
          `costPerMinute must allow at least MAX_QUERY_COST (${maxQueryCost}) per ${window}-second cost window, ` +
            `or the tenant could never run its largest admissible query (${cost} per minute is ${perWindow} per window)`,
          { field: 'costPerMinute', min: Math.ceil((maxQueryCost * 60) / window) },
        );
      }
    }
    return patch;
  }
}
