/**
 * Counts the stack frames V8 hands to `Error.prepareStackTrace` (frames are formatted, and so
 * counted, only when an error's stack is read), for tests that an answer builds no stack. Call it
 * inside a `describe`: the original `prepareStackTrace` is put back after each test.
 */
import { afterEach } from 'vitest';

export function countFormattedFrames(): { frames: number; traces: number; install(): void } {
  const prepare = Object.getOwnPropertyDescriptor(Error, 'prepareStackTrace');
  afterEach(() => {
    if (prepare) Object.defineProperty(Error, 'prepareStackTrace', prepare);
    else Reflect.deleteProperty(Error, 'prepareStackTrace');
  });
  const counts = {
    frames: 0,
    traces: 0,
    install(): void {
      counts.frames = 0;
      counts.traces = 0;
      Error.prepareStackTrace = (e: Error, frames: unknown[]) => {
        counts.frames += frames.length;
        // Node's source-mapped formatter returns at once when there is no frame.
        if (frames.length > 0) counts.traces++;
        return e.message;
      };
    },
  };
  return counts;
}
