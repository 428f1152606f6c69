import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RefusalPacing, refusalOf, type PacingConfig } from './refusal-pacing.js';

const config: PacingConfig = {
  GATEWAY_REFUSALS_FREE: 2,
  GATEWAY_REFUSAL_WINDOW_MS: 10_000,
  GATEWAY_REFUSAL_DELAY_MS: 1000,
  GATEWAY_REFUSALS_MAX_HELD: 3,
  GATEWAY_REFUSALS_MAX_HELD_PER_CALLER: 2,
};

function pacing(over: Partial<PacingConfig> = {}): { p: RefusalPacing; clock: { t: number } } {
  const clock = { t: 0 };
  return { p: new RefusalPacing({ ...config, ...over }, new Registry(), () => clock.t), clock };
}

/** A response stand-in that records what the pacing did to it. */
function response(): {
  destroyed: boolean;
  headers: Record<string, string>;
  setHeader(n: string, v: string): void;
} {
  const headers: Record<string, string> = {};
  return { destroyed: false, headers, setHeader: (n, v) => void (headers[n] = v) };
}

describe('RefusalPacing.verdict', () => {
  it('sends the free refusals of a window at once, then paces, shorter when retryAfter says so', () => {
    const { p } = pacing();
    expect(p.verdict('a')).toEqual({ send: 'now' });
    expect(p.verdict('a')).toEqual({ send: 'now' });
    expect(p.verdict('a')).toEqual({ send: 'later', ms: 1000 });
    expect(p.verdict('a', 0.25)).toEqual({ send: 'later', ms: 250 });
    expect(p.verdict('a', 30)).toEqual({ send: 'later', ms: 1000 });
    // Another caller has its own window.
    expect(p.verdict('b')).toEqual({ send: 'now' });
  });

  it('starts a new window after GATEWAY_REFUSAL_WINDOW_MS', () => {
    const { p, clock } = pacing();
    for (let i = 0; i < 3; i++) p.verdict('a');
    clock.t = 10_000;
    expect(p.verdict('a')).toEqual({ send: 'now' });
  });

  it('never paces with GATEWAY_REFUSAL_DELAY_MS=0', () => {
    const { p } = pacing({ GATEWAY_REFUSAL_DELAY_MS: 0 });
    for (let i = 0; i < 10; i++) expect(p.verdict('a')).toEqual({ send: 'now' });
  });
});

describe('RefusalPacing.pace', () => {
  it('holds answers up to the per-caller bound, then sends at once and closes the connection', () => {
    const { p } = pacing();
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = response();
      p.pace('a', undefined, res, () =>
        sent.push(`${i}${res.headers['connection'] === 'close' ? ' close' : ''}`),
      );
    }
    // 2 free at once, 2 held (per caller), the fifth sent at once on a connection then closed.
    expect(sent).toEqual(['0', '1', '4 close']);
    expect(p.holding).toBe(2);
  });

  it('holds at most GATEWAY_REFUSALS_MAX_HELD answers over all callers', () => {
    const { p } = pacing({ GATEWAY_REFUSALS_FREE: 0 });
    const verdicts: string[] = [];
    for (const caller of ['a', 'b', 'c', 'd']) {
      const res = response();
      p.pace(caller, undefined, res, () => verdicts.push(res.headers['connection'] ?? 'sent'));
    }
    expect(p.holding).toBe(3);
    expect(verdicts).toEqual(['close']);
  });
});

describe('refusalOf', () => {
  const refusal = (code: string, extra: object = {}): string =>
    JSON.stringify({ errors: [{ message: 'no', extensions: { code, ...extra } }] });

  it('finds refusals and their retryAfter', () => {
    expect(refusalOf(refusal('RATE_LIMITED', { retryAfter: 7 }))).toBe(7);
    expect(refusalOf(refusal('QUERY_TOO_COMPLEX'))).toBe(0);
    expect(
      refusalOf(
        JSON.stringify({ data: null, errors: [{ message: 'q', extensions: { code: 'QUOTA_EXCEEDED' } }] }),
      ),
    ).toBe(0);
  });

  it('leaves every other answer alone', () => {
    expect(refusalOf(refusal('BAD_USER_INPUT'))).toBeUndefined();
    expect(refusalOf(refusal('UNAUTHENTICATED'))).toBeUndefined();
    expect(
      refusalOf(
        JSON.stringify({ data: { a: 1 }, errors: [{ message: 'x', extensions: { code: 'RATE_LIMITED' } }] }),
      ),
    ).toBeUndefined();
    expect(
      refusalOf(
        JSON.stringify({
          errors: [
            { message: 'x', extensions: { code: 'RATE_LIMITED' } },
            { message: 'y', extensions: { code: 'INTERNAL_SERVER_ERROR' } },
          ],
        }),
      ),
    ).toBeUndefined();
    expect(refusalOf('not json_')).toBeUndefined();
  });
});
