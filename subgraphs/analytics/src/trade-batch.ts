/**
 * The SQL of ingesting a batch of one tenant's trades in two round trips (trade-ingest.service.ts):
 * the first takes each account's advisory lock and reads, in one statement, which trades are applied
 * already, which accounts were ever seen and the lots involved; the fills are applied in memory in
 * stream order ({@link BatchPlan}); the second writes every change with COMMIT. Statements go over the
 * simple protocol, so every value is a validated UUID or a literal quoted by `sqlLiteral`, cast.
 * A lot is rounded after each fill as its numeric(28, 10) columns store it, so a batch gives exactly
 * what applying its trades one transaction at a time gave.
 */
import { Dec } from '../../../lib/decimal.js';
import { sqlLiteral } from '../../../lib/db.js';
import type { ExecutionRecord } from './analytics.repository.js';
import { applyFill, type ClosedRoundTrip, type Lot } from './metrics/lots.js';
import type { TradeEvent } from './trade-event.js';

/** A fill to apply to an account's lots (a trade event or a replayed execution). */
export type BatchFill = Pick<
  TradeEvent,
  'tradeId' | 'accountId' | 'symbol' | 'side' | 'quantity' | 'price' | 'executedAt'
>;

/** What the first round trip reads (see {@link batchReadStatement}). */
export interface BatchState {
  /** Trade ids of the batch applied already. */
  applied: string[];
  /** Accounts of the batch with at least one applied trade (the others replay their history first). */
  seen: string[];
  lots: { accountId: string; symbol: string; quantity: string; averagePrice: string; openedAt: string }[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function uuid(value: string): string {
  // Validated by the event parser already; checked again since it is spliced into SQL.
  if (!UUID.test(value)) throw new Error('invalid account id in a trade batch');
  return `'${value}'::uuid`;
}

const text = (value: string): string => sqlLiteral(value);
const num = (value: string): string => `${sqlLiteral(value)}::numeric`;
const time = (value: Date): string => `'${value.toISOString()}'::timestamptz`;
const pairKey = (accountId: string, symbol: string): string => `${accountId}\u0000${symbol}`;

/**
 * The first round trip's statements, after the transaction prologue: the advisory lock of each account
 * (sorted, so two batches never wait on each other in a cycle; every writer of an account's lots holds
 * it, which is why lots need no row locks), then one SELECT whose single row is the {@link BatchState}.
 * The SELECT is a statement of its own, so its snapshot is taken after the locks are held.
 */
export function batchReadStatement(fills: readonly BatchFill[]): string {
  const accounts = [...new Set(fills.map((f) => f.accountId))].sort();
  const tradeIds = [...new Set(fills.map((f) => f.tradeId))];
  const pairs = new Map(fills.map((f) => [pairKey(f.accountId, f.symbol), f]));
  const locks = accounts.map((a) => `SELECT pg_advisory_xact_lock(hashtext(${text(`analytics:${a}`)}))`);
  const pairRows = [...pairs.values()].map((f) => `(${uuid(f.accountId)}, ${text(f.symbol)})`).join(', ');
  return `${locks.join('; ')};
SELECT json_build_object(
  'applied', (SELECT coalesce(json_agg(trade_id), '[]'::json) FROM applied_trades
               WHERE trade_id = ANY(ARRAY[${tradeIds.map(text).join(', ')}]::text[])),
  'seen', (SELECT coalesce(json_agg(a), '[]'::json) FROM (VALUES ${accounts.map((a) => `(${uuid(a)})`).join(', ')}) v(a)
            WHERE EXISTS (SELECT 1 FROM applied_trades t WHERE t.account_id = a)),
  'lots', (SELECT coalesce(json_agg(json_build_object('accountId', l.account_id, 'symbol', l.symbol,
             'quantity', l.quantity::text, 'averagePrice', l.average_price::text, 'openedAt', l.opened_at)), '[]'::json)
             FROM trade_lots l WHERE (l.account_id, l.symbol) IN (VALUES ${pairRows}))
) AS state`;
}

/** Lots of an account and symbol, in memory, as the batch changes them. */
export class BatchPlan {
  private readonly lots = new Map<string, Lot | null>();
  private readonly changed = new Set<string>();
  private readonly applied: Set<string>;
  private readonly newlyApplied: BatchFill[] = [];
  private readonly closed: { fill: BatchFill; trip: ClosedRoundTrip }[] = [];

  constructor(state: BatchState) {
    this.applied = new Set(state.applied);
    for (const l of state.lots) this.loadLot(l);
  }

  /** Loads a stored lot (rows of the first round trip, or of an account's history replay). */
  loadLot(l: {
    accountId: string;
    symbol: string;
    quantity: string;
    averagePrice: string;
    openedAt: string | Date;
  }): void {
    this.lots.set(pairKey(l.accountId, l.symbol), {
      quantity: new Dec(l.quantity),
      averagePrice: new Dec(l.averagePrice),
      openedAt: new Date(l.openedAt),
    });
  }

  /** Applies one fill unless it was applied before (in the database or earlier in this batch). */
  apply(f: BatchFill): boolean {
    if (this.applied.has(f.tradeId)) return false;
    this.applied.add(f.tradeId);
    this.newlyApplied.push(f);
    const key = pairKey(f.accountId, f.symbol);
    const r = applyFill(this.lots.get(key) ?? null, {
      side: f.side,
      quantity: new Dec(f.quantity),
      price: new Dec(f.price),
      at: f.executedAt,
    });
    // As numeric(28, 10) stores it: the next fill starts from what the row would hold.
    const lot = r.lot && {
      quantity: r.lot.quantity.toDecimalPlaces(10),
      averagePrice: r.lot.averagePrice.toDecimalPlaces(10),
      openedAt: r.lot.openedAt,
    };
    this.lots.set(key, lot);
    this.changed.add(key);
    if (r.closed) this.closed.push({ fill: f, trip: r.closed });
    return true;
  }

  /** Replays an account's executions (its first trade seen by analytics). */
  replay(accountId: string, executions: readonly ExecutionRecord[]): void {
    for (const e of executions) this.apply({ ...e, tradeId: e.id, accountId });
  }

  /**
   * The second round trip's statements (before COMMIT), or null when nothing changed. The applied
   * trades are inserted without ON CONFLICT: a trade applied meanwhile by a writer that did not hold
   * this account's lock fails the batch, which is then retried and sees it applied.
   */
  writeStatement(): string | null {
    if (this.newlyApplied.length === 0) return null;
    const out: string[] = [
      `INSERT INTO applied_trades (trade_id, account_id, executed_at) VALUES ${this.newlyApplied
        .map((f) => `(${text(f.tradeId)}, ${uuid(f.accountId)}, ${time(f.executedAt)})`)
        .join(', ')}`,
    ];
    const kept: string[] = [];
    const gone: string[] = [];
    for (const key of this.changed) {
      const [accountId = '', symbol = ''] = key.split('\u0000');
      const lot = this.lots.get(key);
      if (!lot) gone.push(`(${uuid(accountId)}, ${text(symbol)})`);
      else {
        kept.push(
          `(${uuid(accountId)}, ${text(symbol)}, ${num(lot.quantity.toFixed(10))}, ${num(lot.averagePrice.toFixed())}, ${time(lot.openedAt)})`,
        );
      }
    }
    if (gone.length > 0)
      out.push(`DELETE FROM trade_lots WHERE (account_id, symbol) IN (VALUES ${gone.join(', ')})`);
    if (kept.length > 0) {
      out.push(`INSERT INTO trade_lots (account_id, symbol, quantity, average_price, opened_at) VALUES ${kept.join(', ')}
ON CONFLICT (account_id, symbol) DO UPDATE
  SET quantity = EXCLUDED.quantity, average_price = EXCLUDED.average_price, opened_at = EXCLUDED.opened_at`);
    }
    if (this.closed.length > 0) {
      const rows = this.closed.map(
        ({ fill: f, trip: c }) =>
          `(${uuid(f.accountId)}, ${text(f.symbol)}, ${text(c.direction)}, ${num(c.quantity.toFixed())}, ` +
          `${num(c.entryPrice.toDecimalPlaces(10).toFixed())}, ${num(c.exitPrice.toDecimalPlaces(10).toFixed())}, ` +
          `${num(c.pnl.toDecimalPlaces(4).toFixed())}, ${time(c.openedAt)}, ${time(c.closedAt)}, ${text(f.tradeId)})`,
      );
      out.push(
        `INSERT INTO closed_trades (account_id, symbol, direction, quantity, entry_price, exit_price, pnl, opened_at, closed_at, trade_id)
VALUES ${rows.join(', ')}`,
      );
    }
    return out.join(';\n');
  }
}
