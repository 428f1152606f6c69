import { Counter, Gauge, Histogram, type Registry } from '../../../lib/metrics.js';
import { TENANT_STATUSES, type TenantStatus } from './db/schema.js';

/** Metrics of the provisioning worker. */
export interface ProvisioningMetrics {
  /** Finished provisioning runs by result (`success`, `failure`: the last attempt failed). */
  provisioned: Counter<'result'>;
  /** Duration of each provisioning attempt, by result (`success`, `error`). */
  duration: Histogram<'result'>;
}

/** Registers the provisioning metrics on the worker's registry. */
export function createProvisioningMetrics(registry: Registry): ProvisioningMetrics {
  const provisioned = new Counter({
    name: 'tenants_provisioned_total',
    help: 'Tenant provisioning runs finished, by result (success, failure after the last attempt)',
    labelNames: ['result'],
    registers: [registry],
  });
  // From 0, so increase() sees the first failure (TenantProvisioningFailed).
  for (const result of ['success', 'failure']) provisioned.inc({ result }, 0);
  return {
    provisioned,
    duration: new Histogram({
      name: 'tenant_provisioning_duration_seconds',
      help: 'Duration of tenant provisioning attempts in seconds, by result',
      labelNames: ['result'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
  };
}

/** Metrics of the warm pool of tenant schemas (jobs/schema-pool.ts). */
export interface SchemaPoolMetrics {
  /** Provisioning runs that took a pooled schema (`hit`) or found none and built one (`miss`). */
  claims: Counter<'result'>;
}

/**
 * Registers the schema pool metrics on the worker's registry; `tenants_schema_pool_ready` is read from
 * the database when scraped (right whichever replica built or claimed an entry).
 */
export function createSchemaPoolMetrics(
  registry: Registry,
  ready: () => Promise<number>,
  onError: (err: unknown) => void,
): SchemaPoolMetrics {
  const claims = new Counter({
    name: 'tenants_schema_pool_claims_total',
    help: 'Provisioning runs that took a schema built ahead (hit) or had to build one (miss)',
    labelNames: ['result'],
    registers: [registry],
  });
  for (const result of ['hit', 'miss']) claims.inc({ result }, 0);
  new Gauge({
    name: 'tenants_schema_pool_ready',
    help: 'Tenant schemas built ahead of sign-up and ready to be claimed',
    registers: [registry],
    async collect() {
      try {
        this.set(await ready());
      } catch (err) {
        // A scrape must not fail because the database is away; the gauge keeps its last value.
        onError(err);
      }
    },
  });
  return { claims };
}

/**
 * `tenants_by_status`, read from the database when scraped (so it is right whichever process changed
 * a status). Registered by the tenants API service.
 */
export function createTenantsByStatusGauge(
  registry: Registry,
  count: () => Promise<Map<TenantStatus, number>>,
  onError: (err: unknown) => void,
): Gauge<'status'> {
  return new Gauge({
    name: 'tenants_by_status',
    help: 'Tenants by status',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      try {
        const counts = await count();
        for (const s of TENANT_STATUSES) this.set({ status: s }, counts.get(s) ?? 0);
      } catch (err) {
        // A scrape must not fail because the database is away; the gauge keeps its last values.
        onError(err);
      }
    },
  });
}

/** `tenants_limit_refusals_total{limit}`: tenant creations refused by `create_ip` or `owned_per_user`. */
export function createLimitRefusalsCounter(registry: Registry): Counter<'limit'> {
  return new Counter({
    name: 'tenants_limit_refusals_total',
    help: 'Tenant creations refused by a limit (create_ip, owned_per_user)',
    labelNames: ['limit'],
    registers: [registry],
  });
}

/** What the queue gauges read from one BullMQ queue. */
export interface QueueReading {
  counts: { waiting: number; active: number; delayed: number; failed: number };
  /** Age of the oldest job waiting to start, in seconds (0 when none waits). */
  oldestWaitingSeconds: number;
}

/**
 * `tenants_queue_jobs{queue,state}` and `tenants_queue_oldest_waiting_seconds{queue}` for the
 * worker's BullMQ queues, read from Redis when scraped (the queues are shared by every replica).
 */
export function createQueueGauges(
  registry: Registry,
  read: () => Promise<Map<string, QueueReading>>,
  onError: (err: unknown) => void,
): void {
  let pending: Promise<Map<string, QueueReading> | undefined> | undefined;
  const readings = (): Promise<Map<string, QueueReading> | undefined> => {
    pending ??= read()
      .catch((err: unknown) => {
        onError(err);
        return undefined;
      })
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
  new Gauge({
    name: 'tenants_queue_jobs',
    help: 'Jobs in the tenants BullMQ queues, by queue and state (waiting, active, delayed, failed: kept failed jobs)',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      const r = await readings();
      if (!r) return;
      for (const [queue, { counts }] of r)
        for (const [state, n] of Object.entries(counts)) this.set({ queue, state }, n);
    },
  });
  new Gauge({
    name: 'tenants_queue_oldest_waiting_seconds',
    help: 'Age of the oldest job waiting to start in each tenants BullMQ queue, in seconds (0: none waits)',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      const r = await readings();
      if (!r) return;
      for (const [queue, { oldestWaitingSeconds }] of r) this.set({ queue }, oldestWaitingSeconds);
    },
  });
}
