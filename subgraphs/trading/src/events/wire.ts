/**
 * JSON of orders and trades on Redis (pub/sub for subscriptions and other replicas' engines). Rows
 * travel as they are stored (decimals as strings); dates become ISO strings and are revived here.
 */
import type { ExecutionRow, OrderRow } from '../db/tenant-schema.js';

/** A trade event: the execution and its order right after it. */
export interface TradeEvent {
  execution: ExecutionRow;
  order: OrderRow;
}

function reviveDate(v: unknown): Date | null {
  if (v === null || v === undefined) return null;
  const d = new Date(v as string);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** An order row from its JSON. */
export function decodeOrder(raw: unknown): OrderRow {
  const o = raw as OrderRow & { createdAt: string; updatedAt: string; expiresAt: string | null };
  return {
    ...o,
    createdAt: reviveDate(o.createdAt) ?? new Date(0),
    updatedAt: reviveDate(o.updatedAt) ?? new Date(0),
    expiresAt: reviveDate(o.expiresAt),
  };
}

/** A trade event from its JSON. */
export function decodeTrade(raw: unknown): TradeEvent {
  const t = raw as { execution: ExecutionRow & { executedAt: string }; order: unknown };
  return {
    execution: { ...t.execution, executedAt: reviveDate(t.execution.executedAt) ?? new Date(0) },
    order: decodeOrder(t.order),
  };
}

/** Parses a message; null when it is not JSON. */
export function parseJson(message: string): unknown {
  try {
    return JSON.parse(message) as unknown;
  } catch {
    return null;
  }
}
