/**
 * Accounts, positions and their reads; cash movements, risk limits and the trading state (OWNER and
 * ADMIN). Reads take many keys at once (trading.loaders.ts gathers a request's look-ups) and run in one
 * withTenant transaction per batch; changes of cash and trading state run in the account's session
 * (session.store.ts) like orders do, so a withdrawal and an order never both spend the same buying power.
 */
import { AppError, ErrorCode, badInput, conflict, notFound } from '../../../lib/errors.js';
import type { AccountSession } from './account-session.js';
import { Dec, str } from './decimal.js';
import type { AccountRow, TradingState } from './db/tenant-schema.js';
import type { EffectsSink } from './effects.sink.js';
import type { QuoteBook } from './market/quote.book.js';
import {
  accountModel,
  positionModel,
  type AccountModel,
  type LedgerEntryModel,
  type OrderEventModel,
  type OrderModel,
  type PositionModel,
  type RiskLimitsModel,
  type TradeModel,
} from './models.js';
import { isUuid, requireId, type PricingConfig } from './order.types.js';
import { marksOf } from './pre-trade.js';
import { limitsFromRow, mergeLimits, type RiskLimitsInput } from './risk-limits.js';
import type { SessionStore } from './session.store.js';
import { inTenant, type Caller, type TenantDb } from './tenant-scope.js';
import type { OrderPageFilter, TradePageFilter, TradingRepository } from './trading.repository.js';

export interface CashMovementInput {
  accountId: string;
  amount: string;
  reference?: string | null | undefined;
}

const REFERENCE = /^[A-Za-z0-9._:-]{1,128}$/;
const MAX_CASH = new Dec('1e14');

export class AccountService {
  constructor(
    private readonly pool: TenantDb,
    private readonly store: SessionStore,
    private readonly quotes: QuoteBook,
    private readonly pricing: PricingConfig,
    private readonly sink: EffectsSink,
    private readonly now: () => number,
  ) {}

  /** Every account of the caller's tenant, oldest first. */
  list(caller: Caller): Promise<AccountModel[]> {
    return this.models(caller, (repo) => repo.listAccounts());
  }

  /** One account of the caller's tenant, or null (also for ids of other tenants: they do not exist here). */
  async get(caller: Caller, accountId: string): Promise<AccountModel | null> {
    return (await this.getMany(caller, [accountId]))[0] ?? null;
  }

  /**
   * Accounts by id in one transaction (the account loader: `account`, `__resolveReference`), in the
   * order of `ids`; null for ids that do not exist in the caller's tenant.
   */
  async getMany(caller: Caller, ids: readonly string[]): Promise<(AccountModel | null)[]> {
    const wanted = uniqueIds(ids);
    if (wanted.length === 0) return ids.map(() => null);
    const models = await this.models(caller, (repo) => repo.accountsByIds(wanted));
    const byId = new Map(models.map((m) => [m.row.id, m]));
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
  eventsOfOrders(caller: Caller, orderIds: readonly string[]): Promise<OrderEventModel[][]> {
    return this.ofOrders(caller, orderIds, (repo, ids) => repo.eventsOfOrders(ids));
  }

  /** The executions of each order (oldest first) in one transaction, in the order of `orderIds`. */
  executionsOfOrders(caller: Caller, orderIds: readonly string[]): Promise<TradeModel[][]> {
    return this.ofOrders(caller, orderIds, (repo, ids) => repo.executionsOfOrders(ids));
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
    const marks = await marksOf(
      this.quotes,
      held.map((p) => p.symbol),
    );
    const byKey = new Map(held.map((r) => [`${r.accountId}/${r.symbol}`, r]));
    return requests.map(({ symbol, accountId }) => {
      if (!valid(accountId)) return null;
      const id = accountId === null ? first : accountId.toLowerCase();
      const row = id === null ? undefined : byKey.get(`${id}/${symbol}`);
      return row ? positionModel(row, marks) : null;
    });
  }

  /** Accounts read by `read` as models, with their positions, limits and marks, in one transaction. */
  private async models(
    caller: Caller,
    read: (repo: TradingRepository) => Promise<AccountRow[]>,
  ): Promise<AccountModel[]> {
    const { rows, positions, limits } = await inTenant(this.pool, caller.scope, async (repo) => {
      const rows = await read(repo);
      const ids = rows.map((r) => r.id);
      const [positions, limits] = await Promise.all([repo.listPositionsOf(ids), repo.riskLimitsOf(ids)]);
      return { rows, positions, limits };
    });
    const held = positions.filter((p) => !new Dec(p.quantity).isZero());
    const marks = await marksOf(
      this.quotes,
      held.map((p) => p.symbol),
    );
    const positionsOf = groupBy(positions, (p) => p.accountId);
    const limitsOf = new Map(limits.map((l) => [l.accountId, l]));
    return rows.map((row) =>
      accountModel(
        row,
        positionsOf.get(row.id) ?? [],
        limitsFromRow(limitsOf.get(row.id)),
        marks,
        this.pricing.shortMarginRate,
      ),
    );
  }

  /** Rows of several orders in one transaction, grouped per order in the order of `orderIds`. */
  private async ofOrders<R extends { orderId: string }>(
    caller: Caller,
    orderIds: readonly string[],
    read: (repo: TradingRepository, ids: string[]) => Promise<R[]>,
  ): Promise<R[][]> {
    const wanted = uniqueIds(orderIds);
    const rows =
      wanted.length === 0 ? [] : await inTenant(this.pool, caller.scope, (repo) => read(repo, wanted));
    const byOrder = groupBy(rows, (r) => r.orderId);
    return orderIds.map((id) => byOrder.get(id.toLowerCase()) ?? []);
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
      const current = limitsFromRow(await repo.getRiskLimits(id));
      const values = mergeLimits(current, input);
      return repo.upsertRiskLimits(id, { ...values, updatedBy: caller.auth.userId });
    });
    return limitsFromRow(row);
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
    await this.inSession(caller, id, (session) => {
      session.setTradingState(state, state === 'ACTIVE' ? null : (reason ?? 'MANUAL'));
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
    await this.inSession(caller, id, async (session, repo) => {
      if (reference !== null) {
        const done = await repo.ledgerByReference(id, kind, reference);
        if (done) {
          if (!new Dec(done.amount).abs().eq(amount))
            throw conflict('reference was already used with another amount');
          return;
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
    });
    return this.require(caller, id);
  }

  /** Runs `work` in the account's session (NOT_FOUND without one) and publishes what it changed. */
  private async inSession(
    caller: Caller,
    accountId: string,
    work: (session: AccountSession, repo: TradingRepository) => void | Promise<void>,
  ): Promise<void> {
    const request = { account: { id: accountId }, lock: true, now: this.now() };
    const done = await this.store.withSession(caller.scope, request, work);
    if (!done) throw notFound('Account');
    if (done.effects) await this.sink(caller.scope, done.effects);
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
