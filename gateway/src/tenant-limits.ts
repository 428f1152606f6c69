/**
 * Each tenant's request limits: the platform defaults (RATE_LIMIT_PER_TENANT, RATE_LIMIT_PER_USER,
 * COST_BUDGET_PER_TENANT) unless a platform admin set the tenant's own (tenants' `setTenantLimits`,
 * per minute). Read from the tenants service's `GET /internal/tenants/:id/limits` on a tenant's first
 * request and kept here: an answer is used for `ttlMs` and then refreshed in the background while the
 * old one keeps serving, so a request waits for the tenants service only once per tenant and per
 * process. A change is published on Redis (`tenantLimitsChanged`) and drops the cached answer at once
 * on every replica; a lost message is repaired by the expiry. When the tenants service cannot answer
 * a first look-up, the defaults apply for `retryMs` (a tenant is never refused for that; it gets the
 * limits every tenant has), and a failed refresh keeps the answer it had.
 */
import { LRUCache } from 'lru-cache';
import type { Config } from '../../lib/config.js';
import type { Logger } from '../../lib/logger.js';
import { subscribeThroughFailover, type Redis } from '../../lib/redis.js';
import { channels } from '../../contracts/redis-names.js';

/** A tenant's limits per window, in the units the limiter and the budget count. */
export interface TenantWindowLimits {
  /** Requests of all the tenant's users together per RATE_LIMIT_WINDOW_SECONDS. */
  tenant: number;
  /** Requests of each user per RATE_LIMIT_WINDOW_SECONDS. */
  user: number;
  /** Query cost per COST_BUDGET_WINDOW_SECONDS. */
  cost: number;
}

/** The tenants service's answer: per-minute overrides, null where the default applies. */
interface Overrides {
  requestsPerMinute: number | null;
  requestsPerMinutePerUser: number | null;
  costPerMinute: number | null;
}

/** What the cache reads of the configuration. */
export type LimitsConfig = Pick<
  Config,
  | 'tenantsUrl'
  | 'SERVICE_TOKEN'
  | 'RATE_LIMIT_WINDOW_SECONDS'
  | 'RATE_LIMIT_PER_USER'
  | 'RATE_LIMIT_PER_TENANT'
  | 'COST_BUDGET_PER_TENANT'
  | 'COST_BUDGET_WINDOW_SECONDS'
>;

/** Options of {@link TenantLimits}; the defaults suit production. */
export interface TenantLimitsOptions {
  /** How long an answer is used before it is refreshed in the background. */
  ttlMs?: number;
  /** How long the defaults stand in after the tenants service could not answer a first look-up. */
  retryMs?: number;
  /** How long one look-up may take. */
  timeoutMs?: number;
  /** Tenants remembered (least recently used go first). */
  maxEntries?: number;
}

interface Entry {
  limits: TenantWindowLimits;
  /** When it is refreshed (epoch ms). */
  staleAt: number;
}

/** Least time between two warnings about failed look-ups. */
const WARN_EVERY_MS = 10_000;

/** Per-minute figure → the same rate over a window of `seconds` (at least 1). */
function perWindow(perMinute: number, seconds: number): number {
  return Math.max(1, Math.round((perMinute * seconds) / 60));
}

/** Reads a field of the answer: a positive integer, or null for the default. */
function override(body: Record<string, unknown>, field: keyof Overrides): number | null {
  const v = body[field];
  if (v === null || v === undefined) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new Error(`tenants answered a malformed ${field}`);
  }
  return v;
}

/** The cache; see the module comment. */
export class TenantLimits {
  /** The limits of a tenant that set none. */
  readonly defaults: TenantWindowLimits;
  private readonly entries: LRUCache<string, Entry>;
  private readonly inFlight = new Map<string, Promise<TenantWindowLimits>>();
  private readonly ttlMs: number;
  private readonly retryMs: number;
  private readonly timeoutMs: number;
  private lastWarning = 0;

  constructor(
    private readonly config: LimitsConfig,
    private readonly logger: Logger,
    opts: TenantLimitsOptions = {},
  ) {
    this.defaults = {
      tenant: config.RATE_LIMIT_PER_TENANT,
      user: config.RATE_LIMIT_PER_USER,
      cost: config.COST_BUDGET_PER_TENANT,
    };
    this.ttlMs = opts.ttlMs ?? 60_000;
    this.retryMs = opts.retryMs ?? 5_000;
    this.timeoutMs = opts.timeoutMs ?? 2_000;
    this.entries = new LRUCache({ max: opts.maxEntries ?? 10_000 });
  }

  /** Subscribes to the change channel; call once with a dedicated subscriber client. */
  async listen(subscriber: Redis, redisPrefix: string): Promise<void> {
    const channel = channels.tenantLimitsChanged(redisPrefix);
    subscriber.on('message', (ch: string, tenantId: string) => {
      if (ch === channel) this.forget(tenantId);
    });
    await subscribeThroughFailover(subscriber, [channel]);
  }

  /**
   * Drops what is known of a tenant (its limits changed): the next request looks them up again, and
   * a look-up already under way is not kept, since it may have read the old values.
   */
  forget(tenantId: string): void {
    this.entries.delete(tenantId);
    this.inFlight.delete(tenantId);
  }

  /**
   * The tenant's limits: at once when known (a stale answer also starts a refresh), else a promise of
   * the look-up (concurrent requests of one tenant share it). Never rejects.
   */
  of(tenantId: string): TenantWindowLimits | Promise<TenantWindowLimits> {
    const entry = this.entries.get(tenantId);
    if (!entry) return this.lookUp(tenantId, undefined);
    if (Date.now() >= entry.staleAt && !this.inFlight.has(tenantId)) void this.lookUp(tenantId, entry);
    return entry.limits;
  }

  private lookUp(tenantId: string, had: Entry | undefined): Promise<TenantWindowLimits> {
    const pending = this.inFlight.get(tenantId);
    if (pending) return pending;
    const p: Promise<TenantWindowLimits> = this.fetch(tenantId).then(
      (limits) => {
        // Dropped meanwhile by a change message: answer this request, remember nothing.
        if (this.inFlight.get(tenantId) === p) {
          this.entries.set(tenantId, { limits, staleAt: Date.now() + this.ttlMs });
        }
        return limits;
      },
      (err: unknown) => {
        const now = Date.now();
        if (now - this.lastWarning >= WARN_EVERY_MS) {
          this.lastWarning = now;
          this.logger.warn(
            { err, tenantId },
            'tenant limits not read; keeping what is known, else the defaults',
          );
        }
        const limits = had?.limits ?? this.defaults;
        if (this.inFlight.get(tenantId) === p) {
          this.entries.set(tenantId, { limits, staleAt: now + this.retryMs });
        }
        return limits;
      },
    );
    this.inFlight.set(tenantId, p);
    void p.finally(() => {
      if (this.inFlight.get(tenantId) === p) this.inFlight.delete(tenantId);
    });
    return p;
  }

  private async fetch(tenantId: string): Promise<TenantWindowLimits> {
    const res = await fetch(
      `${this.config.tenantsUrl}/internal/tenants/${encodeURIComponent(tenantId)}/limits`,
      {
        headers: { 'x-service-token': this.config.SERVICE_TOKEN },
        signal: AbortSignal.timeout(this.timeoutMs),
      },
    );
    if (res.status === 404) {
      // Unknown to the tenants service (a token for a tenant deleted since): nothing to raise.
      await res.body?.cancel();
      return this.defaults;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`tenants answered ${res.status}`);
    }
    const body = (await res.json()) as Record<string, unknown>;
    const requests = override(body, 'requestsPerMinute');
    const perUser = override(body, 'requestsPerMinutePerUser');
    const cost = override(body, 'costPerMinute');
    const c = this.config;
    return {
      tenant: requests === null ? this.defaults.tenant : perWindow(requests, c.RATE_LIMIT_WINDOW_SECONDS),
      user: perUser === null ? this.defaults.user : perWindow(perUser, c.RATE_LIMIT_WINDOW_SECONDS),
      cost: cost === null ? this.defaults.cost : perWindow(cost, c.COST_BUDGET_WINDOW_SECONDS),
    };
  }
}
