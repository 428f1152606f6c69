import { describe, expect, it } from 'vitest';
import { AccountQueue, AccountQueueFullError, type Settled } from './account-queue.js';

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
    const bad = queue.submit('bad', 1, 'A');
    const good = queue.submit('good', 2, 'B');
    const alsoA = queue.submit('a2', 7, 'A');
    await expect(bad).rejects.toThrow('batch failed');
    await expect(good).resolves.toBe(3);
    await expect(alsoA).resolves.toBe(8);
    await expect(queue.submit('bad', 3, 'A')).rejects.toThrow('batch failed');
    await expect(queue.submit('good', 4, 'B')).resolves.toBe(5);
    expect(queue.depth).toBe(0);
  });

  it('shares turns round robin between groups, first come first served within a group', async () => {
    const started: string[] = [];
    const releases: (() => void)[] = [];
    const queue = new AccountQueue<string, string>(
      async (key, items) => {
        started.push(`${key}:${items.join('+')}`);
        await new Promise<void>((r) => releases.push(r));
        return items.map((i) => ({ ok: true, value: i }));
      },
      { maxRunning: 1 },
    );
    const settle = (): Promise<void> => new Promise((r) => setImmediate(r));
    const all: Promise<string>[] = [];
    // Tenant A floods five accounts before tenant B's two accounts ask for a turn.
    all.push(queue.submit('A/a0', 'x', 'A'));
    await settle();
    for (const k of ['a1', 'a2', 'a3', 'a4']) all.push(queue.submit(`A/${k}`, 'x', 'A'));
    await settle();
    all.push(queue.submit('B/b1', 'y', 'B'));
    await settle();
    all.push(queue.submit('B/b2', 'y', 'B'));
    await settle();
    expect(started).toEqual(['A/a0:x']);
    while (started.length < 7) {
      const before = started.length;
      releases.shift()?.();
      await eventuallyStarted(() => started.length > before);
    }
    releases.shift()?.();
    await Promise.all(all);
    // B's batches alternate with A's instead of waiting behind all of A's.
    expect(started).toEqual(['A/a0:x', 'A/a1:x', 'B/b1:y', 'A/a2:x', 'B/b2:y', 'A/a3:x', 'A/a4:x']);
    expect(queue.depth).toBe(0);
  });

  it('refuses a submission beyond maxWaiting per key, and takes new ones once the queue moves', async () => {
    const started: string[] = [];
    const releases: (() => void)[] = [];
    const queue = new AccountQueue<number, number>(
      async (key, items) => {
        started.push(`${key}:${items.join('+')}`);
        await new Promise<void>((r) => releases.push(r));
        return items.map((i) => ({ ok: true, value: i }));
      },
      { maxWaiting: 2 },
    );
    const first = queue.submit('k', 1);
    await eventuallyStarted(() => started.length === 1);
    // 1 runs; 2 and 3 wait; 4 is one too many for this key, while another key is unaffected.
    const waiting = [queue.submit('k', 2), queue.submit('k', 3)];
    const refused = queue.submit('k', 4);
    await expect(refused).rejects.toBeInstanceOf(AccountQueueFullError);
    await expect(refused).rejects.toMatchObject({ key: 'k', limit: 2 });
    const other = queue.submit('other', 9);
    await eventuallyStarted(() => started.length === 2);
    releases.shift()?.();
    expect(await first).toBe(1);
    // 2 and 3 left the waiting line for the next batch: room again.
    await eventuallyStarted(() => started.length === 3);
    const later = queue.submit('k', 5);
    releases.splice(0).forEach((r) => r());
    expect(await Promise.all(waiting)).toEqual([2, 3]);
    expect(await other).toBe(9);
    await eventuallyStarted(() => started.length === 4);
    releases.splice(0).forEach((r) => r());
    expect(await later).toBe(5);
    expect(started).toEqual(['k:1', 'other:9', 'k:2+3', 'k:5']);
    expect(queue.depth).toBe(0);
  });

  it('refuses limits below 1', () => {
    const run = (): Promise<Settled<number>[]> => Promise.resolve([]);
    expect(() => new AccountQueue<number, number>(run, { maxRunning: 0 })).toThrow(RangeError);
    expect(() => new AccountQueue<number, number>(run, { maxBatch: 0 })).toThrow(RangeError);
    expect(() => new AccountQueue<number, number>(run, { maxWaiting: 0 })).toThrow(RangeError);
  });
});

/** Lets the event loop turn until `done()` holds (bounded, so a broken queue fails instead of hanging). */
async function eventuallyStarted(done: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !done(); i++) await new Promise((r) => setImmediate(r));
  expect(done()).toBe(true);
}
