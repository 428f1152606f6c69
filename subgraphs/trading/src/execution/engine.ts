/**
 * The execution engine: owns symbols (one replica per symbol, Redis leases), listens to their ticks,
 * keeps their resting orders of every tenant in memory ({@link SymbolBook}) and fills what each tick
 * reaches. Ticks of one symbol run strictly in order, symbols in parallel; the orders a tick reaches
 * are grouped by account, one account session each (at most TRADING_FILL_CONCURRENCY at once). On
 * start (and for each newly acquired symbol) the index is rebuilt from the open orders of every tenant
 * in the order-book registry while ticks wait; new resting orders come from this replica's placements
 * and from other replicas through the `trading:book` channel.
 */
import { tenantSchemaName, type TenantScope } from '../../../../lib/db.js';
import type { Redis } from '../../../../lib/redis.js';
import { channels } from '../../../../contracts/redis-names.js';
import type { Logger } from '../../../../lib/logger.js';
import type { OrderRow } from '../db/tenant-schema.js';
import type { EffectsSink } from '../effects.sink.js';
import type { EventHub } from '../events/event.hub.js';
import { tradingChannels } from '../events/trading.channels.js';
import { decodeOrder, parseJson } from '../events/wire.js';
import type { InstrumentCatalog } from '../market/instrument.catalog.js';
import { decodeMarketTick, isNewer, type MarketTick } from '../market/market-tick.js';
import type { QuoteBook } from '../market/quote.book.js';
import { isOpen } from '../order.types.js';
import type { OrderBookRegistry } from '../order-book.registry.js';
import type { TxEffects } from '../session-changes.js';
import { inTenant, type TenantDb } from '../tenant-scope.js';
import type { TradingMetrics } from '../trading.metrics.js';
import type { FillService } from './fill.service.js';
import { SymbolBook, type BookEntry } from './order-book.js';
import { SymbolLocks } from './symbol-locks.js';

/** Ticks a symbol may have waiting; beyond this the oldest are dropped (and counted). */
const QUEUE_MAX = 10_000;

interface QueuedTick {
  tick: MarketTick;
  done: (() => void) | undefined;
}

interface SymbolState {
  book: SymbolBook;
  queue: QueuedTick[];
  running: boolean;
  /** Resolves once the index of the symbol was rebuilt. */
  ready: Promise<void>;
  rebuilt: boolean;
  last: MarketTick | undefined;
  unlisten: (() => Promise<void>) | undefined;
}

export interface EngineDeps {
  pool: TenantDb;
  redis: Redis;
  hub: EventHub;
  redisPrefix: string;
  catalog: InstrumentCatalog;
  quotes: QuoteBook;
  registry: OrderBookRegistry;
  fills: FillService;
  metrics: TradingMetrics;
  logger: Logger;
  instanceId: string;
  lockTtlMs: number;
  expiryIntervalMs: number;
  fillConcurrency: number;
  now: () => number;
}

/** The book entry of an open order (how the index sees it). */
export function entryOf(scope: TenantScope, o: OrderRow): BookEntry {
  const kind =
    o.type === 'MARKET' || (o.type === 'STOP' && o.triggered)
      ? 'MARKET'
      : o.type === 'LIMIT' || (o.type === 'STOP_LIMIT' && o.triggered)
        ? 'LIMIT'
        : 'STOP';
  const price = kind === 'LIMIT' ? Number(o.limitPrice) : kind === 'STOP' ? Number(o.stopPrice) : Number.NaN;
  return {
    tenantId: scope.tenantId,
    schemaName: scope.schemaName,
    accountId: o.accountId,
    orderId: o.id,
    symbol: o.symbol,
    side: o.side,
    kind,
    price,
    expiresAt: o.expiresAt?.getTime() ?? null,
    createdAt: o.createdAt.getTime(),
  };
}

export class ExecutionEngine {
  private readonly states = new Map<string, SymbolState>();
  private readonly locks: SymbolLocks;
  private sink: EffectsSink = () => Promise.resolve();
  private claimTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private unlistenBook: (() => Promise<void>) | undefined;
  private stopped = true;
  private claiming: Promise<void> | undefined;

  constructor(private readonly deps: EngineDeps) {
    this.locks = new SymbolLocks(deps.redis, deps.instanceId, deps.lockTtlMs, deps.now);
  }

  /** Where committed effects go (set once by the service, before start). */
  onEffects(sink: EffectsSink): void {
    this.sink = sink;
  }

  /** True when this replica's engine currently owns `symbol` (and its index is rebuilt). */
  owns(symbol: string): boolean {
    return this.states.get(symbol)?.rebuilt === true && this.locks.holds(symbol);
  }

  /** Symbols owned now. */
  ownedSymbols(): string[] {
    return [...this.states.keys()];
  }

  /** Orders in the index (of one symbol when given). */
  restingCount(symbol?: string): number {
    if (symbol !== undefined) return this.states.get(symbol)?.book.size ?? 0;
    let n = 0;
    for (const s of this.states.values()) n += s.book.size;
    return n;
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.unlistenBook = await this.deps.hub.listen(tradingChannels.book(this.deps.redisPrefix), (m) =>
      this.onBookNotice(m),
    );
    await this.claimRound();
    await Promise.all([...this.states.values()].map((s) => s.ready));
    this.claimTimer = setInterval(
      () => void this.claimRound(),
      Math.max(100, Math.floor(this.deps.lockTtlMs / 3)),
    );
    this.claimTimer.unref();
    this.expiryTimer = setInterval(() => {
      this.expireDue().catch((err: unknown) => this.deps.logger.error({ err }, 'expiry sweep failed'));
    }, this.deps.expiryIntervalMs);
    this.expiryTimer.unref();
  }

  /**
   * Stops taking ticks, waits for the ticks in progress, and releases the symbols.
   * @param release false leaves the leases to expire (a crash, as far as other replicas can tell)
   */
  async stop(release = true): Promise<void> {
    this.stopped = true;
    if (this.claimTimer) clearInterval(this.claimTimer);
    if (this.expiryTimer) clearInterval(this.expiryTimer);
    await this.claiming?.catch(() => undefined);
    await this.unlistenBook?.();
    const symbols = [...this.states.keys()];
    await Promise.all([...this.states.values()].map((s) => this.idle(s)));
    for (const s of symbols) await this.drop(s);
    if (release) await this.locks.release(symbols).catch(() => undefined);
    else this.locks.abandon();
  }

  /**
   * Feeds a tick (from Redis, or injected by tests and benchmarks).
   * @returns a promise settled once the tick was processed (or ignored: symbol not owned, stale)
   */
  ingest(tick: MarketTick): Promise<void> {
    const state = this.states.get(tick.symbol);
    if (!state || this.stopped) return Promise.resolve();
    this.deps.quotes.update(tick);
    return new Promise<void>((resolve) => {
      if (state.queue.length >= QUEUE_MAX) {
        state.queue.shift()?.done?.();
        this.deps.metrics.ticksDropped.inc();
      }
      state.queue.push({ tick, done: resolve });
      if (!state.running) void this.drain(tick.symbol, state);
    });
  }

  /** Keeps the index in line with a committed transaction (called for this replica's own changes). */
  sync(scope: TenantScope, effects: TxEffects): void {
    for (const o of effects.orders) {
      const state = this.states.get(o.symbol);
      if (!state) continue;
      if (isOpen(o.status)) state.book.add(entryOf(scope, o));
      else state.book.remove(o.id);
    }
    this.deps.metrics.restingOrders.set(this.restingCount());
  }

  /** Expires due DAY orders of the owned symbols now. */
  async expireDue(): Promise<void> {
    const now = this.deps.now();
    const due: BookEntry[] = [];
    for (const s of this.states.values()) due.push(...s.book.collectExpired(now));
    if (due.length > 0) await this.runGroups(due, null);
  }

  /** Claims and renews symbol leases; starts newly owned symbols and drops lost ones. */
  private claimRound(): Promise<void> {
    if (this.claiming) return this.claiming;
    this.claiming = (async () => {
      if (this.stopped) return;
      const wanted = this.deps.catalog.all().map((i) => i.symbol);
      let held: Set<string>;
      try {
        held = await this.locks.claim(wanted);
      } catch (err) {
        this.deps.logger.warn({ err }, 'symbol lease round failed');
        held = new Set(wanted.filter((s) => this.locks.holds(s)));
      }
      if (this.stopped) return;
      const fresh = [...held].filter((s) => !this.states.has(s));
      for (const s of [...this.states.keys()]) if (!held.has(s)) await this.drop(s);
      if (fresh.length > 0) await this.adopt(fresh);
      this.deps.metrics.ownedSymbols.set(this.states.size);
    })().finally(() => {
      this.claiming = undefined;
    });
    return this.claiming;
  }

  /** Starts owning symbols: listen to their ticks, rebuild their index from the database. */
  private async adopt(symbols: string[]): Promise<void> {
    let release!: () => void;
    const ready = new Promise<void>((r) => (release = r));
    for (const symbol of symbols) {
      const state: SymbolState = {
        book: new SymbolBook(),
        queue: [],
        running: false,
        ready,
        rebuilt: false,
        last: undefined,
        unlisten: undefined,
      };
      this.states.set(symbol, state);
      this.deps.quotes.own(symbol);
    }
    await Promise.all(
      symbols.map(async (symbol) => {
        const state = this.states.get(symbol);
        if (!state) return;
        state.unlisten = await this.deps.hub.listen(
          channels.marketTicks(this.deps.redisPrefix, symbol),
          (m) => {
            const tick = decodeMarketTick(m);
            if (tick && tick.symbol === symbol) void this.ingest(tick);
          },
        );
      }),
    );
    try {
      await this.rebuild(symbols);
      for (const s of symbols) {
        const state = this.states.get(s);
        if (state) state.rebuilt = true;
      }
    } catch (err) {
      // Without its index a symbol must not be owned: give it back and retry on a later round.
      this.deps.logger.error({ err, symbols }, 'order index rebuild failed');
      for (const s of symbols) await this.drop(s);
      await this.locks.release(symbols).catch(() => undefined);
    } finally {
      release();
    }
    this.deps.logger.info({ symbols: symbols.length, resting: this.restingCount() }, 'engine owns symbols');
  }

  private async drop(symbol: string): Promise<void> {
    const state = this.states.get(symbol);
    if (!state) return;
    this.states.delete(symbol);
    this.deps.quotes.disown(symbol);
    for (const q of state.queue) q.done?.();
    state.queue.length = 0;
    await state.unlisten?.();
    this.deps.metrics.restingOrders.set(this.restingCount());
  }

  /** Reads the open orders of the given symbols from every tenant of the registry. */
  private async rebuild(symbols: string[]): Promise<void> {
    const tenants = await this.deps.registry.list();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < tenants.length) {
        const scope = tenants[next++] as TenantScope;
        let rows: OrderRow[];
        try {
          rows = await inTenant(this.deps.pool, scope, (repo) => repo.openOrdersIn(symbols));
        } catch (err) {
          // A tenant that was removed (or is being restored) must not stop the others.
          this.deps.logger.warn(
            { err, tenantId: scope.tenantId },
            'could not read resting orders of a tenant',
          );
          continue;
        }
        for (const o of rows) this.states.get(o.symbol)?.book.add(entryOf(scope, o));
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, tenants.length) }, worker));
    this.deps.metrics.restingOrders.set(this.restingCount());
  }

  private onBookNotice(message: string): void {
    const raw = parseJson(message) as { tenantId?: unknown; order?: unknown } | null;
    if (!raw || typeof raw.tenantId !== 'string' || !raw.order) return;
    const order = decodeOrder(raw.order);
    const state = this.states.get(order.symbol);
    if (!state || !isOpen(order.status)) return;
    const tenantId = raw.tenantId;
    state.book.add(entryOf({ tenantId, schemaName: tenantSchemaName(tenantId) }, order));
  }

  private async drain(symbol: string, state: SymbolState): Promise<void> {
    state.running = true;
    try {
      await state.ready;
      while (state.queue.length > 0 && this.states.get(symbol) === state) {
        const item = state.queue.shift() as QueuedTick;
        try {
          if (!state.last || isNewer(item.tick, state.last)) {
            state.last = item.tick;
            await this.process(state, item.tick);
          }
        } catch (err) {
          this.deps.logger.error({ err, symbol }, 'tick processing failed');
        } finally {
          item.done?.();
        }
      }
    } finally {
      state.running = false;
    }
  }

  private async idle(state: SymbolState): Promise<void> {
    while (state.running) await new Promise((r) => setTimeout(r, 5));
  }

  private async process(state: SymbolState, tick: MarketTick): Promise<void> {
    const due = state.book.collect(tick);
    if (due.length === 0) return;
    const end = this.deps.metrics.tickDuration.startTimer();
    await this.runGroups(due, tick);
    end();
  }

  /** Processes entries account by account, a bounded number of accounts at once. */
  private async runGroups(entries: BookEntry[], tick: MarketTick | null): Promise<void> {
    const groups = new Map<string, BookEntry[]>();
    for (const e of entries) {
      const key = `${e.tenantId}/${e.accountId}`;
      const g = groups.get(key);
      if (g) g.push(e);
      else groups.set(key, [e]);
    }
    const list = [...groups.values()];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < list.length) await this.processGroup(list[next++] as BookEntry[], tick);
    };
    await Promise.all(Array.from({ length: Math.min(this.deps.fillConcurrency, list.length) }, worker));
  }

  private async processGroup(group: BookEntry[], tick: MarketTick | null): Promise<void> {
    const first = group[0] as BookEntry;
    const scope = { tenantId: first.tenantId, schemaName: first.schemaName };
    try {
      const outcome = await this.deps.fills.processResting(
        scope,
        first.accountId,
        group.map((e) => e.orderId),
        tick,
        this.deps.now(),
      );
      for (const o of outcome.open) this.states.get(o.symbol)?.book.add(entryOf(scope, o));
      if (outcome.effects) {
        this.deps.metrics.fills.inc({ source: 'engine' }, outcome.effects.trades.length);
        await this.sink(scope, outcome.effects);
      }
    } catch (err) {
      // Keep the orders: the next tick (or sweep) tries again.
      this.deps.logger.error(
        { err, tenantId: scope.tenantId, accountId: first.accountId },
        'resting orders failed',
      );
      for (const e of group) this.states.get(e.symbol)?.book.add(e);
    }
    this.deps.metrics.restingOrders.set(this.restingCount());
  }
}
