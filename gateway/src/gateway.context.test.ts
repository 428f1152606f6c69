import { describe, expect, it } from 'vitest';
import { rateLimited } from '../../lib/errors.js';
import { countFormattedFrames } from '../../test/support/stack-frames.js';
import { refusal } from './gateway.context.js';

describe('refusal', () => {
  const stacks = countFormattedFrames();

  it('carries the code, details, status and headers, and captures no frames', () => {
    stacks.install();
    const err = rateLimited(7, 'Too many requests for this user');
    const out = refusal(err, 429, [['retry-after', '7']]);
    expect(out.message).toBe('Too many requests for this user');
    expect(out.originalError).toBe(err);
    const { http, ...extensions } = out.extensions as {
      http: { status: number; headers: Map<string, string> };
    };
    expect(extensions).toEqual({ code: 'RATE_LIMITED', retryAfter: 7 });
    expect(http.status).toBe(429);
    expect(http.headers.get('retry-after')).toBe('7');
    expect(out.stack).toBeUndefined();
    expect(stacks.frames).toBe(0);
  });
});
