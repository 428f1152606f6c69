/**
 * lib/http's readiness: `/ready` fails on a failing (or hanging) check but not on an optional one,
 * which it reports under `optional`; `service_ready` and `service_readiness_check{check}` on /metrics
 * say the same at scrape time.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createHttpService, recentCheck, type HttpService } from './http.js';
import { createMetrics } from './metrics.js';

let service: HttpService;
let base: string;
const state = { db: true, cache: true, optional: true, hang: false };

beforeAll(async () => {
  service = createHttpService({
    name: 'readiness-test',
    config: { BIND_HOST: '127.0.0.1', introspection: false },
    port: 0,
    logger: pino({ level: 'silent' }),
    metrics: createMetrics('readiness-test'),
    readiness: {
      postgres: () => Promise.resolve(state.db),
      redis: () => (state.hang ? new Promise<boolean>(() => undefined) : Promise.resolve(state.cache)),
    },
    optionalChecks: { ma130: () => Promise.resolve(state.optional) },
  });
  ({ url: base } = await service.start());
});

afterAll(async () => {
  await service.stop();
});

async function ready(): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}/ready`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function metric(line: string): Promise<number | undefined> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const found = text.split('\n').find((l) => l.startsWith(line));
  return found === undefined ? undefined : Number(found.slice(found.lastIndexOf(' ') + 1));
}

describe('readiness', () => {
  it('all passing: 200, gauges 1, optional checks listed', async () => {
    Object.assign(state, { db: true, cache: true, optional: true, hang: false });
    const r = await ready();
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      status: 'ready',
      checks: { postgres: true, redis: true },
      optional: { ma130: true },
    });
    expect(await metric('service_ready{')).toBe(1);
    expect(await metric('service_readiness_check{check="postgres"')).toBe(1);
    expect(await metric('service_readiness_check{check="redis"')).toBe(1);
  });

  it('a failing optional check keeps /ready at 200', async () => {
    Object.assign(state, { db: true, cache: true, optional: false, hang: false });
    const r = await ready();
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'ready', optional: { ma130: false } });
    expect(await metric('service_ready{')).toBe(1);
  });

  it('a failing dependency: 503, and the gauges name it', async () => {
    Object.assign(state, { db: false, cache: true, optional: true, hang: false });
    const r = await ready();
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ status: 'unavailable', checks: { postgres: false, redis: true } });
    expect(await metric('service_ready{')).toBe(0);
    expect(await metric('service_readiness_check{check="postgres"')).toBe(0);
    expect(await metric('service_readiness_check{check="redis"')).toBe(1);
  });

  it('a check that never answers counts as failing (bounded, /ready still answers)', async () => {
    Object.assign(state, { db: true, cache: true, optional: true, hang: true });
    const r = await ready();
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ checks: { postgres: true, redis: false } });
    expect(await metric('service_readiness_check{check="redis"')).toBe(0);
    // Two checks bounded at 2 s each: more than the default 5 s on a busy machine.
  }, 30_000);
});

describe('recentCheck', () => {
  it('waits for the first answer only, then answers from the last one while one run at a time refreshes it', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      let calls = 0;
      let answer = true;
      let release: (() => void) | undefined;
      const slow = (): Promise<boolean> => {
        calls++;
        const value = answer;
        return new Promise((resolve) => (release = () => resolve(value)));
      };
      const check = recentCheck(slow, 1000);

      const first = check();
      release?.();
      expect(await first).toBe(true);
      expect(calls).toBe(1);
      // Fresh: no call at all.
      expect(await check()).toBe(true);
      expect(calls).toBe(1);

      // Stale: the last answer at once, and a single run however often it is asked meanwhile.
      vi.setSystemTime(Date.now() + 1500);
      answer = false;
      expect(await check()).toBe(true);
      expect(await check()).toBe(true);
      expect(calls).toBe(2);
      release?.();
      await new Promise((r) => setImmediate(r));
      expect(await check()).toBe(false);
      expect(calls).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('counts a check that throws as failing', async () => {
    const check = recentCheck(() => Promise.reject(new Error('down')), 1000);
    expect(await check()).toBe(false);
  });
});
