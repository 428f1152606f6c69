/**
 * Reads of the trading tenant tables (drizzle), plus the few writes outside the order hot path (risk
 * limits). A repository wraps one transaction opened by withTenant (tenant role, search_path = the
 * tenant schema), so every statement is unqualified and can only reach the caller's tenant. The hot
 * path (placement, fills, cancels) is session.store.ts.
 */
import { and, desc, eq, inArray, sql, type SQL } from 'drizzle-orm';
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

/** Clamps a page size to 1..500 (default 50). */
export function pageSize(first: number | null | undefined): number {
  if (first === null || first === undefined) return 50;
  return Math.min(500, Math.max(1, Math.trunc(first)));
}

export class TradingRepository {
  constructor(private readonly tx: Db) {}

  /** The account row, locked until the transaction ends (per-account serialization). */
  async lockAccount(id: string): Promise<AccountRow | undefined> {
    const rows = await this.tx.select().from(accounts).where(eq(accounts.id, id)).for('update');
    return rows[0];
  }

  async getAccount(id: string): Promise<AccountRow | undefined> {
    return (await this.tx.select().from(accounts).where(eq(accounts.id, id)))[0];
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

  listOrders(
    accountId: string,
    filter: { status?: OrderStatus | null; symbol?: string | null; first: number },
  ): Promise<OrderRow[]> {
    const conditions: SQL[] = [eq(orders.accountId, accountId)];
    if (filter.status) conditions.push(eq(orders.status, filter.status));
    if (filter.symbol) conditions.push(eq(orders.symbol, filter.symbol));
    return this.tx
      .select()
      .from(orders)
      .where(and(...conditions))
      .orderBy(desc(orders.createdAt), desc(orders.id))
      .limit(filter.first);
  }

  listEvents(orderId: string): Promise<OrderEventRow[]> {
    return this.tx.select().from(orderEvents).where(eq(orderEvents.orderId, orderId)).orderBy(orderEvents.id);
  }

  listExecutions(
    accountId: string,
    filter: { symbol?: string | null; first: number },
  ): Promise<ExecutionRow[]> {
    const conditions: SQL[] = [eq(executions.accountId, accountId)];
    if (filter.symbol) conditions.push(eq(executions.symbol, filter.symbol));
    return this.tx
      .select()
      .from(executions)
      .where(and(...conditions))
      .orderBy(desc(executions.executedAt), desc(executions.id))
      .limit(filter.first);
  }

  executionsOfOrder(orderId: string): Promise<ExecutionRow[]> {
    return this.tx
      .select()
      .from(executions)
      .where(eq(executions.orderId, orderId))
      .orderBy(executions.executedAt);
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

  listLedger(accountId: string, first: number): Promise<CashLedgerRow[]> {
    return this.tx
      .select()
      .from(cashLedger)
      .where(eq(cashLedger.accountId, accountId))
      .orderBy(desc(cashLedger.id))
      .limit(first);
  }

  listPositions(accountId: string): Promise<PositionRow[]> {
    return this.tx
      .select()
      .from(positions)
      .where(eq(positions.accountId, accountId))
      .orderBy(positions.symbol);
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
