/**
 * Bounds how many pooled connections one tenant's transactions hold at once on this replica. Without it
 * the pool is first come, first served: one tenant's burst of reads or fills takes every connection and
 * everyone else queues behind it. A tenant at its bound waits (it is not refused); waiting happens
 * before a connection is taken, so a waiting transaction holds nothing. Transactions never open another
 * tenant transaction while they run, so waiting here cannot deadlock.
 */
import type { Counter } from '../../../lib/metrics.js';

interface TenantSlots {
  active: number;
  waiting: (() => void)[];
}

/** Counters a {@link TenantGate} feeds (optional: unit tests run without them). */
export interface TenantGateMetrics {
  /** Tenant transactions started (trading_tenant_transactions_total). */
  transactions: Counter;
  /** Tenant transactions that waited for their tenant's share (trading_tenant_connection_waits_total). */
  waits: Counter;
}

export class TenantGate {
  private readonly tenants = new Map<string, TenantSlots>();

  /**
   * @param maxPerTenant connections one tenant may hold at once (TRADING_TENANT_MAX_CONNECTIONS)
   */
  constructor(
    readonly maxPerTenant: number,
    private readonly metrics?: TenantGateMetrics,
  ) {
    if (!(maxPerTenant >= 1)) throw new RangeError('maxPerTenant must be >= 1');
  }

  /** Runs `fn` once the tenant holds fewer than `maxPerTenant` slots; the slot is freed however it ends. */
  async run<T>(tenantId: string, fn: () => Promise<T>): Promise<T> {
    await this.acquire(tenantId);
    try {
      return await fn();
    } finally {
      this.release(tenantId);
    }
  }

  /** Slots the tenant holds now (0 for an idle tenant). */
  active(tenantId: string): number {
    return this.tenants.get(tenantId)?.active ?? 0;
  }

  /** Transactions of the tenant waiting for a slot. */
  waiting(tenantId: string): number {
    return this.tenants.get(tenantId)?.waiting.length ?? 0;
  }

  private acquire(tenantId: string): Promise<void> {
    this.metrics?.transactions.inc();
    let slots = this.tenants.get(tenantId);
    if (!slots) {
      slots = { active: 0, waiting: [] };
      this.tenants.set(tenantId, slots);
    }
    if (slots.active < this.maxPerTenant) {
      slots.active++;
      return Promise.resolve();
    }
    this.metrics?.waits.inc();
    const queue = slots.waiting;
    return new Promise((resolve) => queue.push(resolve));
  }

  /** Hands the slot to the tenant's oldest waiting transaction, or frees it (idle tenants are forgotten). */
  private release(tenantId: string): void {
    const slots = this.tenants.get(tenantId);
    if (!slots) return;
    const next = slots.waiting.shift();
    if (next) {
      next();
      return;
    }
    slots.active--;
    if (slots.active <= 0) this.tenants.delete(tenantId);
  }
}
