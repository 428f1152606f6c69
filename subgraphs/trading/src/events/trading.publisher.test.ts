import { describe, expect, it } from 'vitest';
import type { ExecutionRow, OrderRow } from '../db/tenant-schema.js';
import { bookMessage, orderMessage, tradeMessage } from './trading.publisher.js';

const AT = new Date('2030-03-04T15:00:00.123Z');
const ORDER: OrderRow = {
  id: '00000000-0000-4000-8000-000000000002',
  accountId: '00000000-0000-4000-8000-000000000001',
  clientOrderId: 'it\'s "c-1"',
  symbol: 'AAPL',
  side: 'BUY',
  type: 'MARKET',
  timeInForce: 'DAY',
  quantity: '1',
  limitPrice: null,
  stopPrice: null,
  status: 'FILLED',
  filledQuantity: '1',
  averageFillPrice: '190.12',
  triggered: false,
  reservePrice: '190.3',
  reserveUnits: '1',
  reservedAmount: '0',
  rejectReason: null,
  rejectMessage: null,
  replacesOrderId: null,
  replacedByOrderId: null,
  expiresAt: AT,
  lastTickTs: null,
  lastTickSeq: null,
  createdAt: AT,
  updatedAt: AT,
};
const EXECUTION: ExecutionRow = {
  id: '00000000-0000-4000-8000-000000000003',
  orderId: ORDER.id,
  accountId: ORDER.accountId,
  symbol: 'AAPL',
  side: 'BUY',
  quantity: '1',
  price: '190.12',
  notional: '190.12',
  fee: '0.5',
  executedAt: AT,
};

describe('messages built around an order serialized once', () => {
  it('are the JSON of the whole message, byte for byte', () => {
    const orderJson = orderMessage(ORDER);
    expect(orderJson).toBe(JSON.stringify(ORDER));
    expect(orderMessage({ ...ORDER, expiresAt: null })).toBe(JSON.stringify({ ...ORDER, expiresAt: null }));
    expect(tradeMessage(EXECUTION, orderJson)).toBe(JSON.stringify({ execution: EXECUTION, order: ORDER }));
    expect(bookMessage('t-"1"', orderJson)).toBe(JSON.stringify({ tenantId: 't-"1"', order: ORDER }));
  });
});
