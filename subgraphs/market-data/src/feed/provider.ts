import type { Tick } from '../../../../contracts/market-tick.js';

/** Receives the ticks a provider produces; awaited, so publishing applies back-pressure. */
export type TickSink = (ticks: Tick[]) => Promise<void>;

/**
 * A source of price ticks. Only the feed leader runs one; `run` produces until `signal` aborts and
 * then resolves. Implementations: {@link SimulatorProvider} (default) and {@link ReplayProvider}.
 */
export interface FeedProvider {
  readonly name: string;
  run(sink: TickSink, signal: AbortSignal): Promise<void>;
}

/** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
