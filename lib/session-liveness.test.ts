import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CachedSessionLiveness } from './auth.js';
import { SessionLivenessClient } from './session-liveness-client.js';
import { eventually } from '../test/support/wait.js';
import { createLogger } from './logger.js';

// A stand-in sessions service on loopback: each session id answers what `plan` says next; `hold`
// answers "live" only when the test calls the function left in `held` (never, for a timeout).
const plan = new Map<string, ('live' | 'dead' | '404' | '503' | 'hold')[]>();
const held = new Map<string, () => void>();
const calls = new Map<string, number>();
let server: http.Server;
let sessionsUrl: string;

/** Batches (`POST /internal/sessions/liveness`) received, by their ids; answered 404 while `batchRoute` is off. */
const batches: string[][] = [];
let batchRoute = true;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.method === 'POST') {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        if (!batchRoute || req.url !== '/internal/sessions/liveness') {
          res.writeHead(404).end('Cannot POST');
          return;
        }
        const ids = (JSON.parse(body) as { ids: string[] }).ids;
        batches.push(ids);
        const live = Object.fromEntries(ids.map((id) => [id, (plan.get(id)?.shift() ?? 'live') === 'live']));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ live }));
      });
      return;
    }
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
  it('refuses retryably while the sessions service fails, without remembering the failure', async () => {
    const l = liveness();
    plan.set('s-fail', ['503', 'hold', 'live']);
    // Not "ended": a client retries INTERNAL_SERVER_ERROR, while UNAUTHENTICATED would sign it out.
    const refused = { code: 'INTERNAL_SERVER_ERROR', message: 'Could not confirm the session; retry' };
    await expect(l.isLive('s-fail')).rejects.toMatchObject(refused); // 503
    await expect(l.isLive('s-fail')).rejects.toMatchObject(refused); // timed out
    expect(l.hasEnded('s-fail')).toBe(false);
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

  it('asks for the sessions missed in one turn of the event loop in one request', async () => {
    const l = liveness();
    plan.set('b-dead', ['dead']);
    const before = batches.length;
    const answers = await Promise.all(['b-1', 'b-2', 'b-dead', 'b-1'].map((id) => l.isLive(id)));
    expect(answers).toEqual([true, true, false, true]);
    expect(batches.slice(before)).toEqual([['b-1', 'b-2', 'b-dead']]);
    expect(calls.get('b-1')).toBeUndefined(); // no GET
    expect(await l.isLive('b-dead')).toBe(false); // ended for good
    expect(batches.length).toBe(before + 1);
  });
});

describe('SessionLivenessClient', () => {
  it('asks one session at a time when the sessions service has no batch route (an older version)', async () => {
    batchRoute = false;
    try {
      const client = new SessionLivenessClient({ sessionsUrl, SERVICE_TOKEN: 'x'.repeat(40) });
      plan.set('old-2', ['404']);
      const before = batches.length;
      expect(await Promise.all(['old-1', 'old-2'].map((id) => client.isLive(id)))).toEqual([true, false]);
      expect(await Promise.all(['old-3', 'old-4'].map((id) => client.isLive(id)))).toEqual([true, true]);
      expect(batches.length).toBe(before);
      expect(['old-1', 'old-2', 'old-3', 'old-4'].map((id) => calls.get(id))).toEqual([1, 1, 1, 1]);
    } finally {
      batchRoute = true;
    }
  });

  it('fails every question of a batch the sessions service refused', async () => {
    const client = new SessionLivenessClient({
      sessionsUrl: 'http://127.0.0.1:1',
      SERVICE_TOKEN: 'x'.repeat(40),
    });
    const answers = await Promise.allSettled(['f-1', 'f-2'].map((id) => client.isLive(id)));
    expect(answers.map((a) => a.status)).toEqual(['rejected', 'rejected']);
  });
});
