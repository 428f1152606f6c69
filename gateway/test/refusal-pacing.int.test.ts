/**
 * Pacing of refusals through a real gateway (real Redis rate limits): a caller that keeps sending
 * refused requests gets its answers held, then sent at once on connections that close; another
 * caller is not touched; refused documents answered from memory are paced the same way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../lib/config.js';
import { post, startGatewayBed, type AuthFixtures, type GatewayBed } from './support/harness.js';

let bed: GatewayBed;
let auth: AuthFixtures;

beforeAll(async () => {
  bed = await startGatewayBed('gateway_pacing');
  ({ auth } = bed.world);
});

afterAll(async () => {
  await bed?.stop();
});

const PACING: Partial<Config> = {
  GATEWAY_REFUSALS_FREE: 2,
  GATEWAY_REFUSAL_WINDOW_MS: 60_000,
  GATEWAY_REFUSAL_DELAY_MS: 300,
  GATEWAY_REFUSALS_MAX_HELD_PER_CALLER: 3,
};

async function gatewayWith(limits: Partial<Config>, name: string): Promise<string> {
  const { url } = await bed.gateway({ ...PACING, ...limits }, name);
  return `${url}/graphql`;
}

/** The gateway's `gateway_refusals_paced_total` by verdict. */
async function paced(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(url.replace('/graphql', '/metrics'))).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^gateway_refusals_paced_total\{[^}]*verdict="(\w+)"[^}]*\} (\d+)/gm))
    out[m[1] ?? ''] = Number(m[2]);
  return out;
}

describe('refusal pacing', () => {
  it(
    'holds a repeat offender’s refused answers, then closes its connections; each still says RATE_LIMITED',
    { timeout: 30_000 },
    async () => {
      // Held for 8 s: every one of the 8 refusals is judged while the first held ones still wait.
      const url = await gatewayWith(
        { RATE_LIMIT_PER_USER: 1, RATE_LIMIT_PER_IP: 10_000, GATEWAY_REFUSAL_DELAY_MS: 8000 },
        'rl',
      );
      const token = await auth.mint({ sub: 'offender' });
      const headers = { authorization: `Bearer ${token}` };
      expect((await post(url, { query: '{ hello }' }, headers)).status).toBe(200);
      const answers = await Promise.all(
        Array.from({ length: 8 }, () => post(url, { query: '{ hello }' }, headers)),
      );
      for (const a of answers) {
        expect(a.status).toBe(429);
        expect(a.body.errors?.[0]?.extensions?.['code']).toBe('RATE_LIMITED');
      }
      // 2 free, 3 held (the caller's bound), 3 sent at once on connections then closed.
      expect(await paced(url)).toEqual({ now: 2, later: 3, close: 3 });

      // Another caller's refusals are its own: its first one leaves at once.
      const other = { authorization: `Bearer ${await auth.mint({ sub: 'bystander' })}` };
      expect((await post(url, { query: '{ hello }' }, other)).status).toBe(200);
      expect((await post(url, { query: '{ hello }' }, other)).status).toBe(429);
      expect(await paced(url)).toEqual({ now: 3, later: 3, close: 3 });
    },
  );

  it('paces refused documents answered from memory, per client IP for anonymous callers', async () => {
    const url = await gatewayWith({ MAX_QUERY_ALIASES: 2 }, 'doc');
    const wide = { query: '{ a: hello b: hello c: hello }' };
    for (let i = 0; i < 4; i++) {
      const a = await post(url, wide);
      expect(a.body.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'aliases' });
    }
    expect(await paced(url)).toEqual({ now: 2, later: 2 });
    // An answer with data is never paced.
    expect((await post(url, { query: '{ hello }' })).status).toBe(200);
    expect(await paced(url)).toEqual({ now: 2, later: 2 });
  });
});
