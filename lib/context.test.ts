import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import type { AuthClaims } from './auth.js';
import { buildRequestContext } from './context.js';

function capture(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

describe('request context logger', () => {
  it('is made on first use, carries the request bindings, and survives the copies contexts go through', async () => {
    const { logger, lines } = capture();
    const child = vi.spyOn(logger, 'child');
    const auth = { userId: 'u-1', tenantId: 't-1' } as AuthClaims;
    const ctx = await buildRequestContext({
      headers: { 'x-request-id': 'req-1' },
      remoteAddress: '127.0.0.1',
      verifier: { verifyHeader: () => Promise.resolve(auth) },
      config: { SERVICE_TOKEN: 'x'.repeat(64) },
      logger,
    });
    // What a subgraph's context factory (a spread) and Apollo (a copy per operation) do to it.
    const copy: typeof ctx = Object.create(Object.getPrototypeOf(ctx) as object | null) as typeof ctx;
    const copied = Object.assign(copy, { ...ctx });
    expect(child).not.toHaveBeenCalled();
    copied.logger.info({ extra: 1 }, 'hello');
    ctx.logger.warn('again');
    expect(child).toHaveBeenCalledTimes(1);
    expect(lines.map((l) => [l['msg'], l['requestId'], l['userId'], l['tenantId']])).toEqual([
      ['hello', 'req-1', 'u-1', 't-1'],
      ['again', 'req-1', 'u-1', 't-1'],
    ]);
    expect(copied.logger.isLevelEnabled('debug')).toBe(false);
  });
});
