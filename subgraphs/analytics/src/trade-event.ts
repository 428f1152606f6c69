/**
 * Trade events on trading's Redis stream `<REDIS_PREFIX>trading:trades`. The documented payload is a
 * flat entry of string fields:
 *   tenantId, accountId, symbol, side (BUY|SELL), quantity, price (decimal strings),
 *   executedAt (ISO-8601), orderId, tradeId (the execution id)
 * Also accepted: the same object as JSON in one field (`data`, `event`, `trade` or `payload`), and
 * trading's pub/sub shape `{ tenantId, execution: { id, accountId, symbol, side, quantity, price,
 * executedAt, orderId } }`. Anything else is rejected (null), never trusted blindly.
 */

export interface TradeEvent {
  tenantId: string;
  accountId: string;
  symbol: string;
  side: 'BUY' | 'SELL';
  quantity: string;
  price: string;
  executedAt: Date;
  orderId: string | null;
  tradeId: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const POSITIVE_DECIMAL = /^\d{1,28}(\.\d{1,18})?$/;
const SYMBOL = /^[A-Za-z0-9._/-]{1,32}$/;
const JSON_FIELDS = ['data', 'event', 'trade', 'payload'];

function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/** Validates a decoded object into a {@link TradeEvent}. */
export function toTradeEvent(raw: Record<string, unknown>): TradeEvent | null {
  const exec =
    typeof raw['execution'] === 'object' && raw['execution'] !== null
      ? (raw['execution'] as Record<string, unknown>)
      : null;
  const pick = (k: string): string | undefined => str(raw[k]) ?? (exec ? str(exec[k]) : undefined);
  const tenantId = pick('tenantId');
  const accountId = pick('accountId');
  const symbol = pick('symbol');
  const side = pick('side');
  const quantity = pick('quantity');
  const price = pick('price');
  const executedAt = pick('executedAt');
  const tradeId = pick('tradeId') ?? (exec ? str(exec['id']) : undefined);
  const orderId = pick('orderId') ?? null;
  if (!tenantId || !UUID.test(tenantId) || !accountId || !UUID.test(accountId)) return null;
  if (!symbol || !SYMBOL.test(symbol) || (side !== 'BUY' && side !== 'SELL')) return null;
  if (!quantity || !POSITIVE_DECIMAL.test(quantity) || Number(quantity) <= 0) return null;
  if (!price || !POSITIVE_DECIMAL.test(price)) return null;
  if (!tradeId || tradeId.length > 128 || !executedAt) return null;
  const at = new Date(executedAt);
  if (Number.isNaN(at.getTime())) return null;
  return { tenantId, accountId, symbol, side, quantity, price, executedAt: at, orderId, tradeId };
}

/** Parses the field list of one stream entry (`[k1, v1, k2, v2, ...]`). */
export function parseTradeEntry(fields: readonly string[]): TradeEvent | null {
  const obj: Record<string, unknown> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const k = fields[i];
    if (k !== undefined) obj[k] = fields[i + 1];
  }
  for (const f of JSON_FIELDS) {
    const v = obj[f];
    if (typeof v !== 'string') continue;
    try {
      const parsed = JSON.parse(v) as unknown;
      if (typeof parsed === 'object' && parsed !== null) {
        return toTradeEvent({ ...obj, ...(parsed as Record<string, unknown>) });
      }
    } catch {
      return null;
    }
  }
  return toTradeEvent(obj);
}
