/**
 * The fairness scheduler on its own: user bounds inside a tenant, leaving the queue, the wait timeout,
 * round robin under the gateway bound, and nothing held once every operation is done.
 */
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AppError } from '../../lib/errors.js';
import { TenantFairness, type FairnessConfig } from './tenant-fairness.js';

const config = (overrides: Partial<FairnessConfig> = {}): FairnessConfig => ({
  GATEWAY_MAX_IN_FLIGHT: 100,
  GATEWAY_TENANT_MAX_IN_FLIGHT: 10,
  GATEWAY_USER_MAX_IN_FLIGHT: 10,
  GATEWAY_TENANT_QUEUE_MAX: 10,
  GATEWAY_QUEUE_TIMEOUT_MS: 10_000,
  GATEWAY_FAIRNESS_FREE_IN_FLIGHT: 0,
  ...overrides,
});

/** Whether a ticket's `ready` has settled yet (after pending microtasks ran). */
async function started(ready: Promise<void>): Promise<boolean> {
  let done = false;
  void ready.then(
    () => (done = true),
    () => undefined,
  );
  await new Promise((r) => setImmediate(r));
  return done;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('TenantFairness', () => {
  it('bounds a user inside its tenant without holding up the tenant’s other users', async () => {
    const f = new TenantFairness(config({ GATEWAY_USER_MAX_IN_FLIGHT: 1 }), new Registry());
    const u1a = f.admit({ tenant: 't', user: 'u1' });
    const u1b = f.admit({ tenant: 't', user: 'u1' });
    const u2 = f.admit({ tenant: 't', user: 'u2' });
    expect(await started(u1a.ready)).toBe(true);
    expect(await started(u1b.ready)).toBe(false);
    expect(await started(u2.ready)).toBe(true);
    u1a.release();
    expect(await started(u1b.ready)).toBe(true);
    for (const t of [u1b, u2]) t.release();
    expect([f.inFlight, f.waiting]).toEqual([0, 0]);
  });

  it('lets a waiting operation leave the queue, and releases are idempotent', async () => {
    const f = new TenantFairness(config({ GATEWAY_TENANT_MAX_IN_FLIGHT: 1 }), new Registry());
    const first = f.admit({ tenant: 't', user: 'u' });
    const gone = f.admit({ tenant: 't', user: 'u' });
    const next = f.admit({ tenant: 't', user: 'u' });
    expect(f.waiting).toBe(2);
    gone.release();
    gone.release();
    expect(f.waiting).toBe(1);
    first.release();
    first.release();
    expect(await started(next.ready)).toBe(true);
    expect(f.inFlight).toBe(1);
    next.release();
    expect([f.inFlight, f.waiting]).toEqual([0, 0]);
  });

  it('refuses an operation that waited longer than GATEWAY_QUEUE_TIMEOUT_MS, and one beyond the queue', async () => {
    vi.useFakeTimers();
    const f = new TenantFairness(
      config({ GATEWAY_TENANT_MAX_IN_FLIGHT: 1, GATEWAY_TENANT_QUEUE_MAX: 1, GATEWAY_QUEUE_TIMEOUT_MS: 500 }),
      new Registry(),
    );
    const holder = f.admit({ tenant: 't', user: 'u' });
    const waiting = f.admit({ tenant: 't', user: 'u' });
    const beyond = f.admit({ tenant: 't', user: 'u' });
    await expect(beyond.ready).rejects.toMatchObject({
      code: 'RATE_LIMITED',
      details: { retryAfter: 1, limit: 'tenant_queue' },
    });
    const timedOut = waiting.ready.catch((err: unknown) => err);
    vi.advanceTimersByTime(500);
    const err = await timedOut;
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'RATE_LIMITED', details: { limit: 'queue_timeout' } });
    expect(f.waiting).toBe(0);
    holder.release();
    expect(f.inFlight).toBe(0);
  });

  it('applies the tenant and user bounds only from GATEWAY_FAIRNESS_FREE_IN_FLIGHT in flight on', async () => {
    const f = new TenantFairness(
      config({
        GATEWAY_FAIRNESS_FREE_IN_FLIGHT: 3,
        GATEWAY_TENANT_MAX_IN_FLIGHT: 1,
        GATEWAY_USER_MAX_IN_FLIGHT: 1,
      }),
      new Registry(),
    );
    // One user alone on an idle gateway: three at once, beyond its bound of one.
    const own = [1, 2, 3].map(() => f.admit({ tenant: 'a', user: 'a1' }));
    for (const t of own) expect(await started(t.ready)).toBe(true);
    // Now busy: the same user waits, another tenant (under its bounds) does not.
    const more = f.admit({ tenant: 'a', user: 'a1' });
    const other = f.admit({ tenant: 'b', user: 'b1' });
    expect(await started(more.ready)).toBe(false);
    expect(await started(other.ready)).toBe(true);
    // Back under the free level (2 of a's and b's one in flight: 3): still bounded...
    own[0]!.release();
    expect(await started(more.ready)).toBe(false);
    // ...and below it (2 in flight) it starts, its tenant's bound notwithstanding.
    other.release();
    expect(await started(more.ready)).toBe(true);
    for (const t of [...own, more]) t.release();
    expect([f.inFlight, f.waiting]).toEqual([0, 0]);
  });

  it('serves waiting tenants round robin once the gateway bound is reached', async () => {
    const f = new TenantFairness(config({ GATEWAY_MAX_IN_FLIGHT: 1 }), new Registry());
    const order: string[] = [];
    const tickets = new Map<string, { release(): void }>();
    const run = (tenant: string, name: string): void => {
      const t = f.admit({ tenant, user: `${tenant}-user` });
      tickets.set(name, t);
      void t.ready.then(() => order.push(name));
    };
    for (const [tenant, name] of [
      ['a', 'a1'],
      ['a', 'a2'],
      ['a', 'a3'],
      ['b', 'b1'],
      ['c', 'c1'],
    ]) {
      run(tenant!, name!);
    }
    // Each operation, once running, finishes and hands its slot on.
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setImmediate(r));
      tickets.get(order[i] ?? '')?.release();
    }
    expect(order).toEqual(['a1', 'a2', 'b1', 'c1', 'a3']);
  });
});
