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
    const queue = new AccountQueue<number, number>(
      async (_key, items) => {
        sizes.push(items.length);
        await new Promise((r) => setTimeout(r, 1));
        return items.map((i) => ({ ok: true, value: i }));
      },
      { maxBatch: 4 },
    );
    const all = await Promise.all(Array.from({ length: 10 }, (_, i) => queue.submit('k', i)));
    expect(all).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(4);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(10);
  });

  it('runs at most maxRunning batches at once; a key that waits for its turn takes what arrived meanwhile', async () => {
    const started: string[][] = [];
    const releases = new Map<string, () => void>();
    let running = 0;
    let most = 0;
    const queue = new AccountQueue<string, string>(
      async (key, items) => {
        started.push([key, ...items]);
        most = Math.max(most, ++running);
        await new Promise<void>((r) => releases.set(key, r));
        running--;
        return items.map((i) => ({ ok: true, value: i.toUpperCase() }));
      },
      { maxRunning: 1 },
    );
    const settle = (): Promise<void> => new Promise((r) => setImmediate(r));
    const a = queue.submit('a', 'a1');
    await settle();
    // a runs; b and then c wait for the one turn, and gather what arrives meanwhile.
    const b = [queue.submit('b', 'b1')];
    await settle();
    const c = queue.submit('c', 'c1');
    await settle();
    b.push(queue.submit('b', 'b2'), queue.submit('b', 'b3'));
    await settle();
    expect(started).toEqual([['a', 'a1']]);
    releases.get('a')?.();
    expect(await a).toBe('A1');
    await settle();
    // First come, first served: b asked for a turn before c did.
    expect(started).toEqual([
      ['a', 'a1'],
      ['b', 'b1', 'b2', 'b3'],
    ]);
    releases.get('b')?.();
    expect(await Promise.all(b)).toEqual(['B1', 'B2', 'B3']);
    await settle();
    releases.get('c')?.();
    expect(await c).toBe('C1');
    expect(most).toBe(1);
    expect(queue.depth).toBe(0);
  });

  it('passes the turn on when a batch throws', async () => {
    const queue = new AccountQueue<number, number>(
      async (key, items) => {
        await new Promise((r) => setTimeout(r, 1));
        if (key === 'bad') throw new Error('batch failed');
        return items.map((i) => ({ ok: true, value: i + 1 }));
      },
      { maxRunning: 1 },
    );
    const bad = queue.submit('bad', 1);
    const good = queue.submit('good', 2);
    await expect(bad).rejects.toThrow('batch failed');
    await expect(good).resolves.toBe(3);
    await expect(queue.submit('bad', 3)).rejects.toThrow('batch failed');
    await expect(queue.submit('good', 4)).resolves.toBe(5);
  });

  it('refuses limits below 1', () => {
    const run = (): Promise<Settled<number>[]> => Promise.resolve([]);
    expect(() => new AccountQueue<number, number>(run, { maxRunning: 0 })).toThrow(RangeError);
    expect(() => new AccountQueue<number, number>(run, { maxBatch: 0 })).toThrow(RangeError);
  });
});
