/**
 * Per-tenant fairness of the gateway's operations, in this process (no Redis round trip): each tenant
 * (and each user) has a bounded number of operations in flight, and the gateway as a whole too. An
 * operation beyond a bound waits in its tenant's queue; freed slots go round robin between the
 * tenants that wait, so one tenant's backlog never delays another tenant's next operation behind it.
 * The tenant and user bounds are work-conserving: they apply only from GATEWAY_FAIRNESS_FREE_IN_FLIGHT
 * operations in flight on, so a tenant alone on an idle gateway is never queued behind itself.
 * Beyond its tenant's queue bound, or after waiting too long, an operation is refused with
 * RATE_LIMITED and `retryAfter`. Anonymous operations count as the tenant and user `ip:<client IP>`.
 * The slot is held from admission (before parsing) until the response is finished or abandoned.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Config } from '../../lib/config.js';
import { rateLimited, type AppError } from '../../lib/errors.js';
import { refusal, type GatewayContext } from './gateway.context.js';

/** The bounds (see lib/config.ts for the variables and their defaults). */
export type FairnessConfig = Pick<
  Config,
  | 'GATEWAY_MAX_IN_FLIGHT'
  | 'GATEWAY_TENANT_MAX_IN_FLIGHT'
  | 'GATEWAY_USER_MAX_IN_FLIGHT'
  | 'GATEWAY_TENANT_QUEUE_MAX'
  | 'GATEWAY_QUEUE_TIMEOUT_MS'
  | 'GATEWAY_FAIRNESS_FREE_IN_FLIGHT'
>;

/** Whose operation it is. */
export interface FairnessSubject {
  tenant: string;
  user: string;
}

/** One operation's place: `ready` settles once it may run (or rejects, refused); `release` frees it. */
export interface FairnessTicket {
  ready: Promise<void>;
  /** Frees the slot, or leaves the queue; idempotent (a plain function: safe to pass as a listener). */
  release: () => void;
}

/** Why a waiting operation was refused (metric label). */
type RefusalReason = 'queue_full' | 'queue_timeout';

interface Waiter {
  user: string;
  since: number;
  start(): void;
  refuse(reason: RefusalReason): void;
}

interface TenantState {
  inFlight: number;
  queue: Waiter[];
}

interface FairnessMetrics {
  queued: Counter;
  refused: Counter<'reason'>;
  wait: Histogram;
}

function createFairnessMetrics(registry: Registry, fairness: TenantFairness): FairnessMetrics {
  const registers = [registry];
  new Gauge({
    name: 'gateway_fairness_in_flight',
    help: 'Operations holding a fairness slot (GATEWAY_MAX_IN_FLIGHT across tenants)',
    registers,
    collect() {
      this.set(fairness.inFlight);
    },
  });
  new Gauge({
    name: 'gateway_fairness_waiting',
    help: 'Operations waiting in a tenant queue for a fairness slot',
    registers,
    collect() {
      this.set(fairness.waiting);
    },
  });
  return {
    queued: new Counter({
      name: 'gateway_fairness_queued_total',
      help: 'Operations that waited in their tenant queue before running (in-flight bound of the gateway, tenant or user)',
      registers,
    }),
    refused: new Counter({
      name: 'gateway_fairness_refused_total',
      help: 'Operations refused with RATE_LIMITED by the fairness bounds, by reason (queue_full, queue_timeout)',
      labelNames: ['reason'],
      registers,
    }),
    wait: new Histogram({
      name: 'gateway_fairness_wait_seconds',
      help: 'Time operations that waited spent in their tenant queue',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
  };
}

/** The in-process scheduler; see the module comment. */
export class TenantFairness {
  private running = 0;
  private queued = 0;
  private readonly tenants = new Map<string, TenantState>();
  private readonly users = new Map<string, number>();
  /** Tenants with waiting operations, in round-robin order (the head is served next). */
  private ring: TenantState[] = [];
  private readonly metrics: FairnessMetrics;

  constructor(
    private readonly config: FairnessConfig,
    registry: Registry,
  ) {
    this.metrics = createFairnessMetrics(registry, this);
  }

  /** Operations holding a slot. */
  get inFlight(): number {
    return this.running;
  }

  /** Operations waiting for a slot. */
  get waiting(): number {
    return this.queued;
  }

  /** Asks for a slot for one operation of `subject`. */
  admit(subject: FairnessSubject): FairnessTicket {
    let state: 'waiting' | 'running' | 'done' = 'waiting';
    let timer: NodeJS.Timeout | undefined;
    let tenant = this.tenants.get(subject.tenant);
    if (!tenant) {
      tenant = { inFlight: 0, queue: [] };
      this.tenants.set(subject.tenant, tenant);
    }
    const t = tenant;
    let resolve!: () => void;
    let reject!: (err: AppError) => void;
    const ready = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const waiter: Waiter = {
      user: subject.user,
      since: performance.now(),
      start: () => {
        state = 'running';
        if (timer) {
          clearTimeout(timer);
          this.metrics.wait.observe((performance.now() - waiter.since) / 1000);
        }
        this.running += 1;
        t.inFlight += 1;
        this.users.set(subject.user, (this.users.get(subject.user) ?? 0) + 1);
        resolve();
      },
      refuse: (reason) => {
        state = 'done';
        if (timer) clearTimeout(timer);
        this.metrics.refused.inc({ reason });
        reject(this.refusal(reason));
        this.forget(subject.tenant, t);
      },
    };
    const release = (): void => {
      if (state === 'waiting') {
        // Abandoned while waiting (the client went away).
        state = 'done';
        if (timer) clearTimeout(timer);
        this.dequeue(t, waiter);
        this.forget(subject.tenant, t);
        return;
      }
      if (state !== 'running') return;
      state = 'done';
      this.running -= 1;
      t.inFlight -= 1;
      const n = (this.users.get(subject.user) ?? 1) - 1;
      if (n > 0) this.users.set(subject.user, n);
      else this.users.delete(subject.user);
      this.pump();
      this.forget(subject.tenant, t);
    };

    if (t.queue.length >= this.config.GATEWAY_TENANT_QUEUE_MAX) {
      waiter.refuse('queue_full');
      return { ready, release };
    }
    t.queue.push(waiter);
    this.queued += 1;
    if (t.queue.length === 1) this.ring.push(t);
    this.pump();
    if (state === 'waiting') {
      this.metrics.queued.inc();
      timer = setTimeout(() => {
        if (state !== 'waiting') return;
        this.dequeue(t, waiter);
        waiter.refuse('queue_timeout');
      }, this.config.GATEWAY_QUEUE_TIMEOUT_MS);
      timer.unref();
    }
    return { ready, release };
  }

  /**
   * Hands free slots to waiting operations, one per tenant per turn of the ring: within a tenant, the
   * oldest operation whose user is under its bound.
   */
  private pump(): void {
    const c = this.config;
    while (this.running < c.GATEWAY_MAX_IN_FLIGHT && this.ring.length > 0) {
      let started = false;
      const turn = this.ring;
      this.ring = [];
      for (const [i, t] of turn.entries()) {
        if (this.running >= c.GATEWAY_MAX_IN_FLIGHT) {
          // Out of slots mid-turn: the rest keep their place ahead of those served this turn.
          this.ring = [...turn.slice(i), ...this.ring];
          return;
        }
        const free = this.running < c.GATEWAY_FAIRNESS_FREE_IN_FLIGHT;
        const k = free
          ? 0
          : t.inFlight < c.GATEWAY_TENANT_MAX_IN_FLIGHT
            ? t.queue.findIndex((w) => (this.users.get(w.user) ?? 0) < c.GATEWAY_USER_MAX_IN_FLIGHT)
            : -1;
        if (k >= 0) {
          const [w] = t.queue.splice(k, 1) as [Waiter];
          this.queued -= 1;
          w.start();
          started = true;
        }
        if (t.queue.length > 0) this.ring.push(t);
      }
      if (!started) return;
    }
  }

  private dequeue(t: TenantState, w: Waiter): void {
    const i = t.queue.indexOf(w);
    if (i < 0) return;
    t.queue.splice(i, 1);
    this.queued -= 1;
    if (t.queue.length === 0) this.ring = this.ring.filter((x) => x !== t);
  }

  /** Drops an idle tenant's state, so the map holds only tenants with work. */
  private forget(key: string, t: TenantState): void {
    if (t.inFlight === 0 && t.queue.length === 0 && this.tenants.get(key) === t) this.tenants.delete(key);
  }

  private refusal(reason: RefusalReason): AppError {
    const c = this.config;
    const message =
      reason === 'queue_full'
        ? `Too many operations of this tenant in flight (${c.GATEWAY_TENANT_MAX_IN_FLIGHT} running, ${c.GATEWAY_TENANT_QUEUE_MAX} waiting); retry later`
        : `An operation waited ${c.GATEWAY_QUEUE_TIMEOUT_MS} ms for its tenant's turn (GATEWAY_QUEUE_TIMEOUT_MS); retry later`;
    return rateLimited(1, message, { limit: reason === 'queue_full' ? 'tenant_queue' : 'queue_timeout' });
  }
}

/**
 * The gateway's hook, where a request is admitted (after its context: token and rate limits): waits
 * for the operation's slot, held until the response closes (finished, or the client went away).
 * @throws the RATE_LIMITED refusal (429 with Retry-After) when the tenant's queue is full or too slow
 */
export async function admitFairly<T extends Pick<GatewayContext, 'auth' | 'clientIp'>>(
  fairness: TenantFairness,
  context: T,
  res: { once(event: 'close', listener: () => void): unknown; readonly closed?: boolean },
): Promise<T> {
  const anonymous = `ip:${context.clientIp}`;
  const ticket = fairness.admit({
    tenant: context.auth?.tenantId ?? anonymous,
    user: context.auth?.userId ?? anonymous,
  });
  res.once('close', ticket.release);
  // Gone before the hook ran: 'close' has fired already and would never free the slot.
  if (res.closed) ticket.release();
  try {
    await ticket.ready;
  } catch (err) {
    const e = err as AppError;
    throw refusal(e, 429, [['retry-after', String(e.details['retryAfter'])]]);
  }
  return context;
}
