import { describe, expect, it } from 'vitest';
import { boundedIterator } from './redis-fanout.js';

/** A source the test pushes into, recording whether it is still listened to. */
async function source(max: number) {
  const state = { push: (_v: number): void => undefined, listening: false, dropped: 0, open: 0 };
  const it = await boundedIterator<number>({
    listen: (push) => {
      state.push = push;
      state.listening = true;
      return Promise.resolve(() => {
        state.listening = false;
        return Promise.resolve();
      });
    },
    max,
    onDrop: () => state.dropped++,
    gauge: { inc: () => state.open++, dec: () => state.open-- },
  });
  return { it, state };
}

describe('boundedIterator', () => {
  it('hands a value to a waiting consumer, then queues in order', async () => {
    const { it: iter, state } = await source(10);
    const next = iter.next();
    state.push(1);
    expect(await next).toEqual({ value: 1, done: false });
    state.push(2);
    state.push(3);
    expect(await iter.next()).toEqual({ value: 2, done: false });
    expect(await iter.next()).toEqual({ value: 3, done: false });
  });

  it('drops the oldest values of a slow consumer and counts them', async () => {
    const { it: iter, state } = await source(2);
    for (const v of [1, 2, 3, 4]) state.push(v);
    expect(state.dropped).toBe(2);
    expect(await iter.next()).toEqual({ value: 3, done: false });
    expect(await iter.next()).toEqual({ value: 4, done: false });
  });

  it('return() ends a pending next(), stops listening and releases the gauge once', async () => {
    const { it: iter, state } = await source(2);
    expect(state.open).toBe(1);
    const pending = iter.next();
    await iter.return?.();
    await iter.return?.();
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(state.listening).toBe(false);
    expect(state.open).toBe(0);
    state.push(5);
    expect(await iter.next()).toEqual({ value: undefined, done: true });
  });
});
