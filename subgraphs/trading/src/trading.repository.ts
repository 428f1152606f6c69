/**
 * Reads of the trading tenant tables (drizzle), plus the few writes outside the order hot path (risk
 * limits). A repository wraps one transaction opened by withTenant (tenant role, search_path = the
 * tenant schema), so every statement is unqualified and can only reach the caller's tenant. The hot
 * path (placement, fills, cancels) is session.store.ts.
 */
import { and, asc, desc, eq, inArray, sql, type AnyColumn, type SQL } from 'drizzle-orm';
import type { Db } from '../../../lib/db.js';
import {
  accounts,
  cashLedger,
  executions,
  orderEvents,
  orders,
  positions,
  riskLimits,
  type AccountRow,
  type CashLedgerRow,
  type ExecutionRow,
  type OrderEventRow,
  type OrderRow,
  type OrderStatus,
  type PositionRow,
  type RiskLimitsRow,
} from './db/tenant-schema.js';

export type RiskLimitsValues = Omit<typeof riskLimits.$inferInsert, 'accountId' | 'updatedAt'>;

const OPEN = sql`${orders.status} IN ('NEW', 'PARTIALLY_FILLED')`;

/** `column = ANY($1::uuid[])`: one parameter whatever the number of ids (one statement text, one plan). */
function anyId(column: AnyColumn, ids: readonly string[]): SQL {
  return sql`${column} = ANY(${sql.param([...ids])}::uuid[])`;
}

/** The tables read a page per account at a time. */
type PageTable = typeof orders | typeof executions | typeof cashLedger;

/** Filters of a per-account order page (Account.orders). */
export interface OrderPageFilter {
  status?: OrderStatus | null;
  symbol?: string | null;
  first: number;
}

/** Filters of a per-account trade page (Account.trades). */
export interface TradePageFilter {
  symbol?: string | null;
  first: number;
}

/** Clamps a page size to 1..500 (default 50). */
export function pageSize(first: number | null | undefined): number {
  if (first === null || first === undefined) return 50;
  return Math.min(500, Math.max(1, Math.trunc(first)));
}

export class TradingRepository {
  private db: Db | undefined;

  /** @param open the transaction's drizzle, asked for on the first query (most sessions make none) */
  constructor(private readonly open: () => Db) {}

  private get tx(): Db {
    return (this.db ??= this.open());
  }

  /** The account row, locked until the transaction ends (per-account serialization). */
  async lockAccount(id: string): Promise<AccountRow | undefined> {
    const rows = await this.tx.select().from(accounts).where(eq(accounts.id, id)).for('update');
    return rows[0];
  }

  listAccounts(): Promise<AccountRow[]> {
    return this.tx.select().from(accounts).orderBy(accounts.createdAt, accounts.id);
  }

  async findOrderByClientId(accountId: string, clientOrderId: string): Promise<OrderRow | undefined> {
    const rows = await this.tx
      .select()
      .from(orders)
      .where(and(eq(orders.accountId, accountId), eq(orders.clientOrderId, clientOrderId)));
    return rows[0];
  }

  async getOrder(id: string): Promise<OrderRow | undefined> {
    return (await this.tx.select().from(orders).where(eq(orders.id, id)))[0];
  }

  /** Open orders of every account in the given symbols (the engine's rebuild). */
  openOrdersIn(symbols: readonly string[]): Promise<OrderRow[]> {
    if (symbols.length === 0) return Promise.resolve([]);
    return this.tx
      .select()
      .from(orders)
      .where(and(OPEN, inArray(orders.symbol, [...symbols])))
      .orderBy(orders.createdAt, orders.id);
  }

  async ledgerByReference(
    accountId: string,
    kind: string,
    reference: string,
  ): Promise<CashLedgerRow | undefined> {
    const rows = await this.tx
      .select()
      .from(cashLedger)
      .where(
        and(
          eq(cashLedger.accountId, accountId),
          eq(cashLedger.kind, kind),
          eq(cashLedger.reference, reference),
        ),
      );
    return rows[0];
  }

  /** Positions of several accounts (the `accounts` query). */
  listPositionsOf(accountIds: readonly string[]): Promise<PositionRow[]> {
    if (accountIds.length === 0) return Promise.resolve([]);
    return this.tx
      .select()
      .from(positions)
      .where(inArray(positions.accountId, [...accountIds]))
      .orderBy(positions.symbol);
  }

  async getRiskLimits(accountId: string): Promise<RiskLimitsRow | undefined> {
    return (await this.tx.select().from(riskLimits).where(eq(riskLimits.accountId, accountId)))[0];
  }

  /** Risk limits of several accounts. */
  riskLimitsOf(accountIds: readonly string[]): Promise<RiskLimitsRow[]> {
    if (accountIds.length === 0) return Promise.resolve([]);
    return this.tx
      .select()
      .from(riskLimits)
      .where(inArray(riskLimits.accountId, [...accountIds]));
  }

  /** Accounts by id (the ids that exist in this tenant). */
  accountsByIds(ids: readonly string[]): Promise<AccountRow[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.tx.select().from(accounts).where(anyId(accounts.id, ids));
  }

  /** Orders by id (the ids that exist in this tenant). */
  ordersByIds(ids: readonly string[]): Promise<OrderRow[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.tx.select().from(orders).where(anyId(orders.id, ids));
  }

  /** Events of several orders, each order's oldest first. */
  eventsOfOrders(orderIds: readonly string[]): Promise<OrderEventRow[]> {
    if (orderIds.length === 0) return Promise.resolve([]);
    return this.tx
      .select()
      .from(orderEvents)
      .where(anyId(orderEvents.orderId, orderIds))
      .orderBy(orderEvents.orderId, orderEvents.id);
  }

  /** Executions of several orders, each order's oldest first. */
  executionsOfOrders(orderIds: readonly string[]): Promise<ExecutionRow[]> {
    if (orderIds.length === 0) return Promise.resolve([]);
    return this.tx
      .select()
      .from(executions)
      .where(anyId(executions.orderId, orderIds))
      .orderBy(executions.orderId, executions.executedAt, executions.id);
  }

  /**
   * One page of orders per account (most recent first), in one statement: a LATERAL page per account
   * uses (account_id, created_at) and stops at `first`, however long the account's history.
   */
  orderPagesOf(accountIds: readonly string[], filter: OrderPageFilter): Promise<OrderRow[]> {
    const where: SQL[] = [];
    if (filter.status) where.push(eq(orders.status, filter.status));
    if (filter.symbol) where.push(eq(orders.symbol, filter.symbol));
    return this.pagesOf(accountIds, orders, where, ['createdAt', 'id'], filter.first);
  }

  /** One page of executions per account (most recent first), in one statement (see orderPagesOf). */
  tradePagesOf(accountIds: readonly string[], filter: TradePageFilter): Promise<ExecutionRow[]> {
    const where = filter.symbol ? [eq(executions.symbol, filter.symbol)] : [];
    return this.pagesOf(accountIds, executions, where, ['executedAt', 'id'], filter.first);
  }

  /** One page of ledger entries per account (most recent first), in one statement (see orderPagesOf). */
  ledgerPagesOf(accountIds: readonly string[], first: number): Promise<CashLedgerRow[]> {
    return this.pagesOf(accountIds, cashLedger, [], ['id'], first);
  }

  /**
   * One page of `table`'s rows per account, newest first by the `newest` columns: the existing
   * accounts among `accountIds` joined to a LATERAL page each.
   */
  private async pagesOf<T extends PageTable>(
    accountIds: readonly string[],
    table: T,
    where: SQL[],
    newest: readonly (keyof T['$inferSelect'] & string)[],
    first: number,
  ): Promise<T['$inferSelect'][]> {
    if (accountIds.length === 0) return [];
    const acc = this.tx
      .select({ id: accounts.id })
      .from(accounts)
      .where(anyId(accounts.id, accountIds))
      .as('acc');
    const columns = table as unknown as Record<string, AnyColumn>;
    // Typed as the union: drizzle's select types do not resolve over a type parameter.
    const source: PageTable = table;
    const page = this.tx
      .select()
      .from(source)
      .where(and(eq(table.accountId, acc.id), ...where))
      .orderBy(...newest.map((k) => desc(columns[k] as AnyColumn)))
      .limit(first)
      .as('page');
    const paged = page as unknown as Record<string, AnyColumn>;
    const rows = await this.tx
      .select()
      .from(acc)
      .innerJoinLateral(page, sql`true`)
      .orderBy(asc(paged['accountId'] as AnyColumn), ...newest.map((k) => desc(paged[k] as AnyColumn)));
    return rows.map((r) => r.page as T['$inferSelect']);
  }

  async upsertRiskLimits(accountId: string, values: RiskLimitsValues): Promise<RiskLimitsRow> {
    const [saved] = await this.tx
      .insert(riskLimits)
      .values({ accountId, ...values })
      .onConflictDoUpdate({ target: riskLimits.accountId, set: { ...values, updatedAt: sql`now()` } })
      .returning();
    if (!saved) throw new Error('risk limits upsert returned no row');
    return saved;
  }
}
