import { describe, expect, it } from 'vitest';
import { AccountQueue, type Settled } from './account-queue.js';

describe('AccountQueue', () => {
  it('runs one batch per key at a time; what arrives meanwhile goes together in the next', async () => {
    const batches: string[][] = [];
    let running = 0;
    let overlap = false;
    let release: () => void = () => undefined;
    const queue = new AccountQueue<string, string>(async (key, items) => {
      if (key === 'a') {
        if (++running > 1) overlap = true;
        await new Promise<void>((r) => (release = r));
        running--;
      }
      batches.push([key, ...items]);
      return items.map((i) => ({ ok: true, value: i.toUpperCase() }));
    });
    const first = queue.submit('a', 'x');
    await new Promise((r) => setImmediate(r));
    // x is running; y and z wait for it, and b runs on its own meanwhile.
    const rest = [queue.submit('a', 'y'), queue.submit('a', 'z'), queue.submit('b', 'w')];
    expect(await rest[2]).toBe('W');
    release();
    expect(await first).toBe('X');
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    release();
    expect(await Promise.all(rest)).toEqual(['Y', 'Z', 'W']);
    expect(batches).toEqual([
      ['b', 'w'],
      ['a', 'x'],
      ['a', 'y', 'z'],
    ]);
    expect(overlap).toBe(false);
    expect(queue.depth).toBe(0);
  });

  it('settles each submission with its own outcome, and fails a whole batch only when the batch throws', async () => {
    const queue = new AccountQueue<number, number>(async (_key, items) => {
      await Promise.resolve();
      if (items.includes(13)) throw new Error('batch failed');
      return items.map((i): Settled<number> =>
        i < 0 ? { ok: false, error: new Error(`bad ${i}`) } : { ok: true, value: i * 2 },
      );
    });
    const ok = queue.submit('k', 1);
    const bad = queue.submit('k', -1);
    await expect(ok).resolves.toBe(2);
    await expect(bad).rejects.toThrow('bad -1');
    const [a, b] = [queue.submit('k', 13), queue.submit('k', 2)];
    await expect(a).rejects.toThrow('batch failed');
    await expect(b).rejects.toThrow('batch failed');
    // The key keeps working after a failed batch.
    await expect(queue.submit('k', 4)).resolves.toBe(8);
  });

  it('splits a long queue into batches of at most maxBatch', async () => {
    const sizes: number[] = [];
    const queue = new AccountQueue<number, number>(async (_key, items) => {
      sizes.push(items.length);
      await new Promise((r) => setTimeout(r, 1));
      return items.map((i) => ({ ok: true, value: i }));
    }, 4);
    const all = await Promise.all(Array.from({ length: 10 }, (_, i) => queue.submit('k', i)));
    expect(all).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(4);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(10);
  });
});
