import { describe, expect, it } from 'vitest';
import { TenantGate } from './tenant-gate.js';

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A task that runs until released, recording when it started. */
function task(log: string[], name: string): { fn: () => Promise<string>; release: () => void } {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  return {
    fn: async () => {
      log.push(name);
      await gate;
      return name;
    },
    release: () => release(),
  };
}

describe('TenantGate', () => {
  it("bounds each tenant's concurrent transactions; others are not held back by a busy tenant", async () => {
    const gate = new TenantGate(2);
    const log: string[] = [];
    const a = ['a1', 'a2', 'a3', 'a4'].map((n) => task(log, n));
    const b = task(log, 'b1');
    const runs = a.map((t) => gate.run('A', t.fn));
    const rb = gate.run('B', b.fn);
    await settle();
    expect(log).toEqual(['a1', 'a2', 'b1']);
    expect([gate.active('A'), gate.waiting('A'), gate.active('B')]).toEqual([2, 2, 1]);
    b.release();
    expect(await rb).toBe('b1');
    // A's third starts only when one of its two finishes, oldest waiting first.
    a[1]?.release();
    await settle();
    expect(log).toEqual(['a1', 'a2', 'b1', 'a3']);
    a.forEach((t) => t.release());
    expect(await Promise.all(runs)).toEqual(['a1', 'a2', 'a3', 'a4']);
    expect([gate.active('A'), gate.waiting('A'), gate.active('B')]).toEqual([0, 0, 0]);
  });

  it('frees the slot when a transaction throws', async () => {
    const gate = new TenantGate(1);
    await expect(gate.run('A', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(gate.active('A')).toBe(0);
    await expect(gate.run('A', () => Promise.resolve('ok'))).resolves.toBe('ok');
  });

  it('refuses a bound below 1', () => {
    expect(() => new TenantGate(0)).toThrow(RangeError);
  });
});
