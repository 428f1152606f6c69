import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CachedSessionLiveness } from './auth.js';
import { eventually } from '../test/support/wait.js';
import { createLogger } from './logger.js';

// A stand-in sessions service on loopback: each session id answers what `plan` says next; `hold`
// answers "live" only when the test calls the function left in `held` (never, for a timeout).
const plan = new Map<string, ('live' | 'dead' | '404' | '503' | 'hold')[]>();
const held = new Map<string, () => void>();
const calls = new Map<string, number>();
let server: http.Server;
let sessionsUrl: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const id = decodeURIComponent(req.url?.split('/').pop() ?? '');
    calls.set(id, (calls.get(id) ?? 0) + 1);
    const next = plan.get(id)?.shift() ?? 'live';
    const json = (status: number, body: unknown): void => {
      if (res.headersSent) return; // a held answer released twice (by its test, then by afterAll)
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (next === 'hold') held.set(id, () => json(200, { live: true }));
    else if (next === '404') json(404, {});
    else if (next === '503') json(503, {});
    else setTimeout(() => json(200, { live: next === 'live' }), 20);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  sessionsUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const release of held.values()) release();
  await new Promise((resolve) => server.close(resolve));
});

// The timeout only has to outlast a loopback answer on a loaded machine: timeouts are held answers.
const liveness = (timeoutMs = 1000, maxEntries?: number): CachedSessionLiveness =>
  new CachedSessionLiveness(
    { sessionsUrl, SERVICE_TOKEN: 'x'.repeat(40), SESSION_CACHE_SECONDS: 30 },
    createLogger({ LOG_LEVEL: 'silent' }, 'test'),
    timeoutMs,
    maxEntries,
  );

/** Starts a check of `id` whose answer ("live") the server holds; resolves once the server has it. */
async function heldCheck(l: CachedSessionLiveness, id: string) {
  plan.set(id, ['hold']);
  const answer = l.isLive(id);
  const release = await eventually(() => held.get(id), `the check of ${id} to reach the server`);
  return { answer, release };
}

describe('CachedSessionLiveness', () => {
  it('refuses while the sessions service fails, without remembering the failure', async () => {
    const l = liveness();
    plan.set('s-fail', ['503', 'hold', 'live']);
    expect(await l.isLive('s-fail')).toBe(false); // 503
    expect(await l.isLive('s-fail')).toBe(false); // timed out
    expect(await l.isLive('s-fail')).toBe(true); // asked again, and live
    expect(await l.isLive('s-fail')).toBe(true); // now from the cache
    expect(calls.get('s-fail')).toBe(3);
  });

  it('remembers an ended session for good', async () => {
    const l = liveness();
    plan.set('s-gone', ['404', 'live']);
    expect(await l.isLive('s-gone')).toBe(false);
    expect(await l.isLive('s-gone')).toBe(false);
    expect(calls.get('s-gone')).toBe(1);
  });

  it('asks once for concurrent requests of one session', async () => {
    const l = liveness();
    const answers = await Promise.all(Array.from({ length: 20 }, () => l.isLive('s-burst')));
    expect(answers.every(Boolean)).toBe(true);
    expect(calls.get('s-burst')).toBe(1);
  });

  it('never lets a live answer that was in flight overwrite a revocation that arrived meanwhile', async () => {
    const l = liveness(10_000);
    const { answer, release } = await heldCheck(l, 's-race');
    const joined = l.isLive('s-race'); // shares the held check
    l.revoke(['s-race']); // what a revocation message on Redis does
    release();
    expect(await answer).toBe(false);
    expect(await joined).toBe(false);
    expect(await l.isLive('s-race')).toBe(false);
    expect(calls.get('s-race')).toBe(1); // the end is final: not asked again

    // The same held answer without a revocation is trusted (and cached).
    const control = await heldCheck(l, 's-norace');
    control.release();
    expect(await control.answer).toBe(true);
    expect(await l.isLive('s-norace')).toBe(true);
    expect(calls.get('s-norace')).toBe(1);
  });

  it('distrusts an in-flight live answer when a newer end was evicted from the bounded memory', async () => {
    const l = liveness(10_000, 2);
    const { answer, release } = await heldCheck(l, 's-evicted');
    l.revoke(['s-evicted', 'other-1', 'other-2']); // s-evicted's end is pushed out of the 2 entries
    expect(l.hasEnded('s-evicted')).toBe(false);
    release();
    expect(await answer).toBe(false);
  });
});
