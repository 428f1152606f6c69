/**
 * The instrument catalog as trading needs it (tick and lot sizes, tradability, currency). It belongs to
 * market-data: trading reads it through market-data's GraphQL `instruments` query with the service
 * token (never market's tables), holds it in memory (it is small and read on every order) and refreshes
 * it periodically. An unknown symbol triggers at most one early reload every few seconds, so a newly
 * listed instrument becomes tradable without waiting for the refresh.
 */
import type { Config } from '../../../../lib/config.js';
import { callInternal } from '../../../../lib/internal-client.js';
import type { Logger } from '../../../../lib/logger.js';

export interface InstrumentInfo {
  symbol: string;
  name: string;
  currency: string;
  tickSize: string;
  lotSize: string;
  tradable: boolean;
}

/** Where the catalog comes from (market-data in production; a fixed list in tests). */
export interface InstrumentSource {
  load(): Promise<InstrumentInfo[]>;
}

const QUERY = 'query TradingInstruments { instruments { symbol name currency tickSize lotSize tradable } }';

/** market-data's `instruments` query, called with the service token. */
export class GraphqlInstrumentSource implements InstrumentSource {
  constructor(private readonly config: Pick<Config, 'SERVICE_TOKEN' | 'marketDataUrl'>) {}

  async load(): Promise<InstrumentInfo[]> {
    const data = await callInternal<{ instruments: InstrumentInfo[] }>(
      this.config,
      this.config.marketDataUrl,
      QUERY,
      {},
    );
    return data.instruments;
  }
}

/** A fixed catalog. */
export class StaticInstrumentSource implements InstrumentSource {
  constructor(private readonly instruments: readonly InstrumentInfo[]) {}

  load(): Promise<InstrumentInfo[]> {
    return Promise.resolve([...this.instruments]);
  }
}

/** Shortest time between two reloads caused by unknown symbols. */
const EARLY_RELOAD_MS = 5_000;

export class InstrumentCatalog {
  private bySymbol = new Map<string, InstrumentInfo>();
  private loadedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<void> | undefined;
  private closed = false;
  private readonly listeners = new Set<(symbols: string[]) => void>();

  constructor(
    private readonly source: InstrumentSource,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** True once a load succeeded. */
  get loaded(): boolean {
    return this.loadedAt > 0;
  }

  /**
   * Loads the catalog, then reloads it every `refreshMs`; while no load has succeeded yet (market-data
   * not up), it retries every 2 seconds instead.
   */
  async open(refreshMs: number): Promise<void> {
    this.closed = false;
    const attempt = async (): Promise<void> => {
      await this.reload().catch((err: unknown) => {
        this.logger.warn({ err }, 'instrument catalog load failed');
      });
      if (this.closed) return;
      this.timer = setTimeout(() => void attempt(), this.loaded ? refreshMs : Math.min(refreshMs, 2_000));
      this.timer.unref();
    };
    await attempt();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Called with every symbol after each successful load. */
  onLoad(listener: (symbols: string[]) => void): void {
    this.listeners.add(listener);
  }

  /** Loads the catalog now (concurrent callers share one load). */
  reload(): Promise<void> {
    this.inflight ??= this.source
      .load()
      .then((list) => {
        const next = new Map<string, InstrumentInfo>();
        for (const i of list) next.set(i.symbol, i);
        this.bySymbol = next;
        this.loadedAt = this.now();
        const symbols = [...next.keys()];
        for (const l of [...this.listeners]) l(symbols);
      })
      .finally(() => {
        this.inflight = undefined;
      });
    return this.inflight;
  }

  all(): InstrumentInfo[] {
    return [...this.bySymbol.values()];
  }

  /**
   * The instrument of `symbol`; an unknown symbol reloads the catalog first (at most every few seconds).
   * @throws Error when no catalog could ever be loaded (market-data unreachable since start)
   */
  async lookup(symbol: string): Promise<InstrumentInfo | undefined> {
    const hit = this.bySymbol.get(symbol);
    if (hit) return hit;
    if (!this.loaded || this.now() - this.loadedAt >= EARLY_RELOAD_MS) {
      await this.reload().catch((err: unknown) => {
        this.logger.warn({ err }, 'instrument catalog reload failed');
      });
    }
    if (!this.loaded) throw new Error('instrument catalog unavailable');
    return this.bySymbol.get(symbol);
  }

  get(symbol: string): InstrumentInfo | undefined {
    return this.bySymbol.get(symbol);
  }
}
