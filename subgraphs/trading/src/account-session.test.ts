import { describe, expect, it } from 'vitest';
import { AccountSession } from './account-session.js';
import { Dec } from './decimal.js';
import type { AccountRow } from './db/tenant-schema.js';
import { validateOrder, type PricingConfig } from './order.types.js';
import type { RiskDecision } from './risk.rules.js';
import type { SessionSnapshot } from './session-changes.js';
import { flushDocument } from './session.codec.js';

const NOW = Date.parse('2030-03-04T15:00:00Z');
const PRICING: PricingConfig = {
  slippageBps: new Dec(0),
  impactBps: new Dec(0),
  liquidityFactor: new Dec(0),
  feeBps: new Dec(10),
  feeMin: new Dec(1),
  shortMarginRate: new Dec('1.5'),
  maxQuoteAgeMs: 0,
  dayEndMinuteUtc: 20 * 60,
};
const ACCOUNT: AccountRow = {
  id: '00000000-0000-4000-8000-000000000001',
  name: 'main',
  currency: 'USD',
  cash: '10000',
  createdAt: new Date(NOW - 86_400_000),
  reserved: '0',
  tradingState: 'ACTIVE',
  tradingStateReason: null,
  rateWindowStart: null,
  rateWindowCount: 0,
  dayStartDate: null,
  dayStartEquity: null,
  updatedAt: new Date(NOW - 86_400_000),
};

function session(): AccountSession {
  const snapshot: SessionSnapshot = {
    account: ACCOUNT,
    positions: [],
    limits: undefined,
    existing: new Map(),
    open: new Map(),
    orders: [],
  };
  return new AccountSession(snapshot, PRICING, NOW);
}

/** An accepted decision reserving `units` at `price`. */
function accepted(units: string, price: string): RiskDecision {
  const reservation = new Dec(units).mul(price);
  return {
    rejection: null,
    estimatedPrice: new Dec(price),
    estimatedNotional: reservation,
    estimatedFee: null,
    reservePrice: new Dec(price),
    reserveUnits: new Dec(units),
    reservation,
    buyingPower: new Dec(ACCOUNT.cash),
  };
}

const buy = validateOrder({
  accountId: ACCOUNT.id,
  clientOrderId: 'c-1',
  symbol: 'AAPL',
  side: 'BUY',
  type: 'LIMIT',
  quantity: '10',
  limitPrice: '100',
});

describe('account session (in memory, no database)', () => {
  it('has nothing to write until something changes', () => {
    const s = session();
    expect(s.changed).toBe(false);
    s.countSubmission();
    expect(s.changed).toBe(true);
  });

  it('collects an order, its fill, the ledger, the position and the open quantities as one change set', () => {
    const s = session();
    const order = s.createOrder(buy, accepted('10', '100'), { expiresAt: null });
    expect(s.openQuantities('AAPL').buy.toFixed()).toBe('10');
    expect(s.fill(order, new Dec(4), new Dec(99), null)).toBeNull();
    const { changes, effects } = s.collect();
    expect(changes.newOrders.map((o) => [o.status, o.filledQuantity, o.reservedAmount])).toEqual([
      ['PARTIALLY_FILLED', '4', '600'],
    ]);
    expect(changes.events.map((e) => e.type)).toEqual(['ACCEPTED', 'PARTIALLY_FILLED']);
    expect(changes.ledger.map((l) => [l.kind, l.amount])).toEqual([
      ['trade', '-396'],
      ['fee', '-1'],
    ]);
    expect(changes.positions.map((p) => [p.symbol, p.quantity, p.averagePrice])).toEqual([
      ['AAPL', '4', '99'],
    ]);
    expect(changes.openQuantities).toEqual([{ symbol: 'AAPL', buy: '6', sell: '0' }]);
    expect([changes.account?.cash, changes.account?.reserved]).toEqual(['9603', '600']);
    expect(effects.trades.map((t) => t.order.status)).toEqual(['PARTIALLY_FILLED']);
  });

  it('refuses a fill that would spend cash it does not have, and changes nothing', () => {
    const s = session();
    const order = s.createOrder({ ...buy, quantity: new Dec(200) }, accepted('1', '1'), { expiresAt: null });
    const before = s.collect().changes;
    expect(s.fill(order, new Dec(200), new Dec(100), null)).toBe('INSUFFICIENT_BUYING_POWER');
    const after = s.collect().changes;
    expect([after.executions.length, after.ledger.length, after.account?.cash]).toEqual([
      before.executions.length,
      before.ledger.length,
      before.account?.cash,
    ]);
  });

  it("writes the change set as the flush function's document, timestamps as JSON.stringify writes them", () => {
    const s = session();
    const order = s.createOrder(buy, accepted('10', '100'), { expiresAt: new Date(NOW + 3_600_000) });
    s.fill(order, new Dec(4), new Dec(99), null);
    const { changes } = s.collect();
    const doc = JSON.parse(flushDocument(changes)) as Record<string, Record<string, unknown>[]>;
    const at = new Date(NOW).toISOString();
    expect(doc['newOrders']?.map((o) => [o['expires_at'], o['created_at'], o['updated_at']])).toEqual([
      [new Date(NOW + 3_600_000).toISOString(), at, at],
    ]);
    const stamps = ['executions', 'events', 'ledger'].flatMap((k) =>
      (doc[k] ?? []).map((r) => r['executed_at'] ?? r['created_at']),
    );
    expect(stamps).toEqual([at, at, at, at, at]);
    expect(doc['positions']?.[0]?.['updated_at']).toBe(at);
    expect(doc['account']).toMatchObject({ updated_at: at, cash: '9603', reserved: '600' });
  });
});
