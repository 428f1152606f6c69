import type { Socket } from 'node:net';

/**
 * Counts the system-call-level writes of a TCP socket from now on: net.Socket's `_write` for one
 * chunk, `_writev` for what piled up while it was corked.
 * @returns the number of writes so far
 */
export function countWrites(tcp: Socket): () => number {
  let writes = 0;
  const internals = tcp as unknown as Record<'_write' | '_writev', (...args: unknown[]) => void>;
  for (const name of ['_write', '_writev'] as const) {
    const original = internals[name].bind(tcp);
    internals[name] = (...args: unknown[]): void => {
      writes++;
      original(...args);
    };
  }
  return () => writes;
}
