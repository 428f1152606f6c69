import type pg from 'pg';
import type { Logger } from '../../../../lib/logger.js';
import type { Tick } from '../../../../contracts/market-tick.js';
import type { StoredTick, TickRepository } from '../tick.repository.js';
import { sleep, type FeedProvider, type TickSink } from './provider.js';

/** Options of {@link ReplayProvider}. */
export interface ReplayOptions {
  /** Window of stored ticks to play, epoch ms, `from` inclusive, `to` exclusive. */
  from: number;
  to: number;
  /** 1: recorded pace; 10: ten times faster. */
  speed: number;
  /** Only these symbols (empty: all). */
  symbols: readonly string[];
  producer: string;
  /** Start over at the end of the window (default true); false: stop. */
  loop?: boolean;
  now?: () => number;
}

const PAGE = 5_000;

/**
 * Plays stored ticks back with their recorded spacing (scaled by `speed`), stamped with the current
 * time, so consumers see them as live ticks. Prices, sizes and order are the recorded ones.
 */
export class ReplayProvider implements FeedProvider {
  readonly name = 'replay';
  private readonly now: () => number;

  constructor(
    private readonly pool: pg.Pool,
    private readonly ticks: TickRepository,
    private readonly logger: Logger,
    private readonly opts: ReplayOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  async run(sink: TickSink, signal: AbortSignal): Promise<void> {
    const wanted = new Set(this.opts.symbols);
    let seq = this.now() * 1000;
    while (!signal.aborted) {
      let after: { ts: number; seq: number } | null = null;
      let first: number | undefined;
      let wallStart = this.now();
      let played = 0;
      for (;;) {
        if (signal.aborted) return;
        const page: StoredTick[] = await this.ticks.readRange(
          this.pool,
          this.opts.from,
          this.opts.to,
          after,
          PAGE,
        );
        if (page.length === 0) break;
        const last = page[page.length - 1] as StoredTick;
        after = { ts: last.ts, seq: last.seq };
        let i = 0;
        while (i < page.length && !signal.aborted) {
          const head = page[i] as StoredTick;
          if (first === undefined) {
            first = head.ts;
            wallStart = this.now();
          }
          const dueAt = wallStart + (head.ts - first) / this.opts.speed;
          const wait = dueAt - this.now();
          if (wait > 0) await sleep(Math.min(wait, 1_000), signal);
          if (signal.aborted) return;
          // Everything due by now goes out together.
          const now = this.now();
          const out: Tick[] = [];
          while (i < page.length) {
            const t = page[i] as StoredTick;
            if (wallStart + (t.ts - first) / this.opts.speed > now) break;
            i++;
            if (wanted.size > 0 && !wanted.has(t.symbol)) continue;
            seq += 1;
            out.push({ ...t, ts: now, seq, producer: this.opts.producer });
          }
          if (out.length > 0) {
            played += out.length;
            await sink(out);
          }
        }
      }
      if (played === 0) {
        this.logger.warn({ from: this.opts.from, to: this.opts.to }, 'no stored ticks to replay; retrying');
        await sleep(5_000, signal);
      } else if (this.opts.loop === false) {
        return;
      }
    }
  }
}
