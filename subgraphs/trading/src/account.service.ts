/**
 * Accounts, positions and their reads; cash movements, risk limits and the trading state (OWNER and
 * ADMIN). Reads take many keys at once (trading.loaders.ts gathers a request's look-ups) and run in one
 * withTenant transaction per batch; changes lock the account row like orders do, so a withdrawal and
 * an order never both spend the same buying power.
 */
import { AppError, ErrorCode, badInput, conflict, notFound } from '../../../lib/errors.js';
import { openSession, type AccountSession } from './account-session.js';
import { Dec, moneyUp, str } from './decimal.js';
import type { AccountRow, PositionRow, TradingState } from './db/tenant-schema.js';
import type { EffectsSink } from './execution/engine.js';
import type { QuoteBook } from './market/quote.book.js';
import type {
  AccountModel,
  LedgerEntryModel,
  OrderEventModel,
  OrderModel,
  PositionModel,
  RiskLimitsModel,
  TradeModel,
} from './models.js';
import { requireId } from './order.service.js';
import type { PricingConfig } from './order.types.js';
import { DEFAULT_LIMITS } from './risk.rules.js';
import { limitsFromRow } from './account-session.js';
import { inTenant, type Caller, type TenantDb } from './tenant-scope.js';
import type { SessionStore } from './session.store.js';
import {
  type OrderPageFilter,
  type RiskLimitsValues,
  type TradePageFilter,
  type TradingRepository,
} from './trading.repository.js';

export interface CashMovementInput {
  accountId: string;
  amount: string;
  reference?: string | null | undefined;
}

/** RiskLimitsInput: an omitted field keeps its value, null removes the limit. */
export interface RiskLimitsInput {
  maxOrderQuantity?: string | null | undefined;
  minOrderQuantity?: string | null | undefined;
  maxOrderNotional?: string | null | undefined;
  maxPositionQuantity?: string | null | undefined;
  maxGrossExposure?: string | null | undefined;
  priceCollarPercent?: string | null | undefined;
  allowShortSelling?: boolean | null | undefined;
  maxOrdersPerMinute?: number | null | undefined;
  dailyLossLimit?: string | null | undefined;
}

const REFERENCE = /^[A-Za-z0-9._:-]{1,128}$/;
const MAX_CASH = new Dec('1e14');

export class AccountService {
  constructor(
    private readonly pool: TenantDb,
    private readonly quotes: QuoteBook,
    private readonly pricing: PricingConfig,
    private readonly sink: EffectsSink,
    private readonly now: () => number,
  ) {}

  /** Every account of the caller's tenant, oldest first. */
  async list(caller: Caller): Promise<AccountModel[]> {
    const { rows, positions, limits } = await inTenant(this.pool, caller.scope, async (repo) => {
      const rows = await repo.listAccounts();
      const ids = rows.map((r) => r.id);
      const [positions, limits] = await Promise.all([repo.listPositionsOf(ids), repo.riskLimitsOf(ids)]);
      return { rows, positions, limits };
    });
    const marks = await this.marks(positions);
    return rows.map((row) =>
      this.model(
        row,
        positions.filter((p) => p.accountId === row.id),
        limitsFromRow(
          limits.find((l) => l.accountId === row.id),
          DEFAULT_LIMITS,
        ),
        marks,
      ),
    );
  }

  /** One account of the caller's tenant, or null (also for ids of other tenants: they do not exist here). */
  async get(caller: Caller, accountId: string): Promise<AccountModel | null> {
    if (!isUuid(accountId)) return null;
    const found = await inTenant(this.pool, caller.scope, async (repo) => {
      const row = await repo.getAccount(accountId);
      if (!row) return null;
      const [positions, limits] = await Promise.all([repo.listPositions(row.id), repo.getRiskLimits(row.id)]);
      return { row, positions, limits: limitsFromRow(limits, DEFAULT_LIMITS) };
    });
    if (!found) return null;
    return this.model(found.row, found.positions, found.limits, await this.marks(found.positions));
  }

  /**
   * Accounts by id in one transaction (the account loader: `account`, `__resolveReference`), in the
   * order of `ids`; null for ids that do not exist in the caller's tenant.
   */
  async getMany(caller: Caller, ids: readonly string[]): Promise<(AccountModel | null)[]> {
    const wanted = uniqueIds(ids);
    if (wanted.length === 0) return ids.map(() => null);
    const { rows, positions, limits } = await inTenant(this.pool, caller.scope, async (repo) => {
      const rows = await repo.accountsByIds(wanted);
      const found = rows.map((r) => r.id);
      const [positions, limits] = await Promise.all([repo.listPositionsOf(found), repo.riskLimitsOf(found)]);
      return { rows, positions, limits };
    });
    const marks = await this.marks(positions);
    const byId = new Map(
      rows.map((row) => [
        row.id,
        this.model(
          row,
          positions.filter((p) => p.accountId === row.id),
          limitsFromRow(
            limits.find((l) => l.accountId === row.id),
            DEFAULT_LIMITS,
          ),
          marks,
        ),
      ]),
    );
    return ids.map((id) => byId.get(id.toLowerCase()) ?? null);
  }

  /** Orders by id in one transaction, in the order of `ids` (null where not found in the tenant). */
  async ordersByIds(caller: Caller, ids: readonly string[]): Promise<(OrderModel | null)[]> {
    const wanted = uniqueIds(ids);
    if (wanted.length === 0) return ids.map(() => null);
    const rows = await inTenant(this.pool, caller.scope, (repo) => repo.ordersByIds(wanted));
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id.toLowerCase()) ?? null);
  }

  /** The events of each order (oldest first) in one transaction, in the order of `orderIds`. */
  async eventsOfOrders(caller: Caller, orderIds: readonly string[]): Promise<OrderEventModel[][]> {
    const wanted = uniqueIds(orderIds);
    const rows =
      wanted.length === 0
        ? []
        : await inTenant(this.pool, caller.scope, (repo) => repo.eventsOfOrders(wanted));
    const byOrder = groupBy(rows, (r) => r.orderId);
    return orderIds.map((id) => byOrder.get(id.toLowerCase()) ?? []);
  }

  /** The executions of each order (oldest first) in one transaction, in the order of `orderIds`. */
  async executionsOfOrders(caller: Caller, orderIds: readonly string[]): Promise<TradeModel[][]> {
    const wanted = uniqueIds(orderIds);
    const rows =
      wanted.length === 0
        ? []
        : await inTenant(this.pool, caller.scope, (repo) => repo.executionsOfOrders(wanted));
    const byOrder = groupBy(rows, (r) => r.orderId);
    return orderIds.map((id) => byOrder.get(id.toLowerCase()) ?? []);
  }

  /**
   * A page of orders per (account, filter) in one transaction: one statement per distinct filter,
   * whatever the number of accounts. Results in the order of `requests`.
   */
  orderPages(
    caller: Caller,
    requests: readonly { accountId: string; filter: OrderPageFilter }[],
  ): Promise<OrderModel[][]> {
    return this.pages(caller, requests, (repo, ids, filter) => repo.orderPagesOf(ids, filter));
  }

  /** A page of executions per (account, filter) in one transaction (see {@link orderPages}). */
  tradePages(
    caller: Caller,
    requests: readonly { accountId: string; filter: TradePageFilter }[],
  ): Promise<TradeModel[][]> {
    return this.pages(caller, requests, (repo, ids, filter) => repo.tradePagesOf(ids, filter));
  }

  /** A page of ledger entries per (account, size) in one transaction (see {@link orderPages}). */
  ledgerPages(
    caller: Caller,
    requests: readonly { accountId: string; filter: { first: number } }[],
  ): Promise<LedgerEntryModel[][]> {
    return this.pages(caller, requests, (repo, ids, filter) => repo.ledgerPagesOf(ids, filter.first));
  }

  /**
   * The caller's positions for several (symbol, account) pairs in one transaction (`Instrument.position`
   * of a list of instruments); a null account is the tenant's first. Null when flat or not found.
   */
  async positions(
    caller: Caller,
    requests: readonly { symbol: string; accountId: string | null }[],
  ): Promise<(PositionModel | null)[]> {
    const valid = (id: string | null): boolean => id === null || isUuid(id);
    const wanted = [...new Set(requests.filter((r) => valid(r.accountId)).map((r) => r.accountId))];
    if (wanted.length === 0) return requests.map(() => null);
    const { first, rows } = await inTenant(this.pool, caller.scope, async (repo) => {
      const first = wanted.includes(null) ? ((await repo.listAccounts())[0]?.id ?? null) : null;
      const ids = [...new Set([...wanted.filter((id) => id !== null), ...(first ? [first] : [])])];
      return { first, rows: await repo.listPositionsOf(ids) };
    });
    const held = rows.filter((r) => !new Dec(r.quantity).isZero());
    const marks = await this.marks(held);
    const byKey = new Map(held.map((r) => [`${r.accountId}/${r.symbol}`, r]));
    return requests.map(({ symbol, accountId }) => {
      if (!valid(accountId)) return null;
      const id = accountId === null ? first : accountId.toLowerCase();
      const row = id === null ? undefined : byKey.get(`${id}/${symbol}`);
      return row ? this.positionModel(row, marks) : null;
    });
  }

  /** Runs one page read per distinct filter of `requests`, all in one transaction. */
  private async pages<F, R extends { accountId: string }>(
    caller: Caller,
    requests: readonly { accountId: string; filter: F }[],
    read: (repo: TradingRepository, accountIds: string[], filter: F) => Promise<R[]>,
  ): Promise<R[][]> {
    const groups = new Map<string, { filter: F; accountIds: Set<string> }>();
    for (const r of requests) {
      if (!isUuid(r.accountId)) continue;
      const key = JSON.stringify(r.filter);
      const group = groups.get(key) ?? { filter: r.filter, accountIds: new Set<string>() };
      group.accountIds.add(r.accountId.toLowerCase());
      groups.set(key, group);
    }
    if (groups.size === 0) return requests.map(() => []);
    const results = await inTenant(this.pool, caller.scope, async (repo) => {
      const out = new Map<string, Map<string, R[]>>();
      for (const [key, g] of groups)
        out.set(
          key,
          groupBy(await read(repo, [...g.accountIds], g.filter), (x) => x.accountId),
        );
      return out;
    });
    return requests.map((r) => results.get(JSON.stringify(r.filter))?.get(r.accountId.toLowerCase()) ?? []);
  }

  /**
   * The account, or NOT_FOUND (subscriptions and mutations check the account belongs to the caller's
   * tenant this way).
   */
  async require(caller: Caller, accountId: string): Promise<AccountModel> {
    const id = requireId(accountId, 'accountId');
    const found = await this.get(caller, id);
    if (!found) throw notFound('Account');
    return found;
  }

  /** Adds cash (OWNER/ADMIN). A repeated `reference` moves the money once. */
  deposit(caller: Caller, input: CashMovementInput): Promise<AccountModel> {
    return this.moveCash(caller, 'deposit', input);
  }

  /** Takes cash out, at most the buying power (OWNER/ADMIN). */
  withdraw(caller: Caller, input: CashMovementInput): Promise<AccountModel> {
    return this.moveCash(caller, 'withdrawal', input);
  }

  async updateRiskLimits(
    caller: Caller,
    accountId: string,
    input: RiskLimitsInput,
  ): Promise<RiskLimitsModel> {
    const id = requireId(accountId, 'accountId');
    const row = await inTenant(this.pool, caller.scope, async (repo) => {
      const account = await repo.lockAccount(id);
      if (!account) throw notFound('Account');
      const current = limitsFromRow(await repo.getRiskLimits(id), DEFAULT_LIMITS);
      const values = mergeLimits(current, input);
      return repo.upsertRiskLimits(id, { ...values, updatedBy: caller.auth.userId });
    });
    return limitsFromRow(row, DEFAULT_LIMITS);
  }

  async setTradingState(
    caller: Caller,
    accountId: string,
    state: TradingState,
    reason: string | null | undefined,
  ): Promise<AccountModel> {
    const id = requireId(accountId, 'accountId');
    if (reason && reason.length > 200)
      throw badInput('reason is at most 200 characters', { field: 'reason' });
    await inTenant(this.pool, caller.scope, async (_repo, store) => {
      const session = await this.lockSession(store, id);
      session.setTradingState(state, state === 'ACTIVE' ? null : (reason ?? 'MANUAL'));
      await session.flush(store);
    });
    return this.require(caller, id);
  }

  private async moveCash(
    caller: Caller,
    kind: 'deposit' | 'withdrawal',
    input: CashMovementInput,
  ): Promise<AccountModel> {
    const id = requireId(input.accountId, 'accountId');
    const amount = new Dec(input.amount);
    if (!amount.isFinite() || amount.lte(0)) throw badInput('amount must be positive', { field: 'amount' });
    if (amount.decimalPlaces() > 4) throw badInput('amount has more than 4 decimals', { field: 'amount' });
    if (amount.gt(MAX_CASH)) throw badInput('amount is too large', { field: 'amount' });
    const reference = input.reference ?? null;
    if (reference !== null && !REFERENCE.test(reference)) {
      throw badInput('reference must be 1-128 characters of A-Z a-z 0-9 . _ : -', { field: 'reference' });
    }
    const effects = await inTenant(this.pool, caller.scope, async (repo, store) => {
      const session = await this.lockSession(store, id);
      if (reference !== null) {
        const done = await repo.ledgerByReference(id, kind, reference);
        if (done) {
          if (!new Dec(done.amount).abs().eq(amount))
            throw conflict('reference was already used with another amount');
          return null;
        }
      }
      if (kind === 'withdrawal') {
        const available = session.buyingPower();
        if (amount.gt(available)) {
          throw new AppError(ErrorCode.RiskRejected, 'Withdrawal exceeds the buying power', {
            reason: 'INSUFFICIENT_BUYING_POWER',
            buyingPower: str(available),
          });
        }
      }
      session.moveCash(kind, amount, reference);
      return session.flush(store);
    });
    if (effects) await this.sink(caller.scope, effects);
    return this.require(caller, id);
  }

  private async lockSession(store: SessionStore, accountId: string): Promise<AccountSession> {
    const opened = await openSession(store, accountId, this.pricing, this.now(), {
      lock: true,
      defaults: DEFAULT_LIMITS,
    });
    if (!opened) throw notFound('Account');
    return opened.session;
  }

  private async marks(positions: readonly PositionRow[]): Promise<Map<string, Dec>> {
    const symbols = positions.filter((p) => !new Dec(p.quantity).isZero()).map((p) => p.symbol);
    const quotes = await this.quotes.getMany(symbols);
    const marks = new Map<string, Dec>();
    for (const [s, q] of quotes) marks.set(s, new Dec(q.price));
    return marks;
  }

  private positionModel(p: PositionRow, marks: ReadonlyMap<string, Dec>): PositionModel {
    return {
      accountId: p.accountId,
      symbol: p.symbol,
      quantity: new Dec(p.quantity),
      averagePrice: new Dec(p.averagePrice),
      realizedPnl: new Dec(p.realizedPnl),
      lastPrice: marks.get(p.symbol) ?? null,
    };
  }

  private model(
    row: AccountRow,
    positions: readonly PositionRow[],
    limits: RiskLimitsModel,
    marks: ReadonlyMap<string, Dec>,
  ): AccountModel {
    let shortCost = new Dec(0);
    let realized = new Dec(0);
    for (const p of positions) {
      realized = realized.add(p.realizedPnl);
      const q = new Dec(p.quantity);
      if (q.isNegative()) shortCost = shortCost.add(q.abs().mul(p.averagePrice));
    }
    return {
      row,
      positions: positions
        .filter((p) => !new Dec(p.quantity).isZero())
        .map((p) => this.positionModel(p, marks)),
      realizedPnl: realized,
      limits,
      shortMargin: moneyUp(shortCost.mul(this.pricing.shortMarginRate)),
    };
  }
}

/** The distinct well-formed ids of `ids`, lower-cased (others cannot exist: they are not UUIDs). */
function uniqueIds(ids: readonly string[]): string[] {
  return [...new Set(ids.filter(isUuid).map((id) => id.toLowerCase()))];
}

/** Rows grouped by a key, each group in the rows' order. */
function groupBy<T>(rows: readonly T[], key: (row: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const k = key(row);
    const group = groups.get(k);
    if (group) group.push(row);
    else groups.set(k, [row]);
  }
  return groups;
}

function isUuid(v: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v);
}

/** New limit values from the current ones and an input (omitted: kept; null: removed). */
export function mergeLimits(current: RiskLimitsModel, input: RiskLimitsInput): RiskLimitsValues {
  const pick = (key: keyof RiskLimitsInput, value: Dec | null): string | null => {
    const given = input[key];
    if (given === undefined) return value === null ? null : str(value);
    if (given === null) return null;
    const d = new Dec(given as string);
    if (!d.isFinite() || d.isNegative()) throw badInput(`${key} must not be negative`, { field: key });
    if (d.gt('1e15')) throw badInput(`${key} is too large`, { field: key });
    return str(d);
  };
  const collar = pick('priceCollarPercent', current.priceCollarPct);
  if (collar !== null && (new Dec(collar).lte(0) || new Dec(collar).gt(10))) {
    throw badInput('priceCollarPercent must be in (0, 10] (a fraction: 0.1 is 10 %)', {
      field: 'priceCollarPercent',
    });
  }
  const rate = input.maxOrdersPerMinute === undefined ? current.maxOrdersPerMinute : input.maxOrdersPerMinute;
  if (rate !== null && (!Number.isInteger(rate) || rate < 1 || rate > 1_000_000)) {
    throw badInput('maxOrdersPerMinute must be 1..1000000', { field: 'maxOrdersPerMinute' });
  }
  return {
    maxOrderQuantity: pick('maxOrderQuantity', current.maxOrderQuantity),
    minOrderQuantity: pick('minOrderQuantity', current.minOrderQuantity),
    maxOrderNotional: pick('maxOrderNotional', current.maxOrderNotional),
    maxPositionQuantity: pick('maxPositionQuantity', current.maxPositionQuantity),
    maxGrossExposure: pick('maxGrossExposure', current.maxGrossExposure),
    priceCollarPct: collar,
    allowShortSelling: input.allowShortSelling ?? current.allowShortSelling,
    maxOrdersPerMinute: rate,
    dailyLossLimit: pick('dailyLossLimit', current.dailyLossLimit),
  };
}
