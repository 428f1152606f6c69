import { describe, expect, it } from 'vitest';
import { Dec } from './decimal.js';
import { applyFill, valuation, type PositionState } from './position.math.js';

const flat: PositionState = { quantity: new Dec(0), averagePrice: new Dec(0), realizedPnl: new Dec(0) };
const view = (p: PositionState) => [p.quantity.toFixed(), p.averagePrice.toFixed(), p.realizedPnl.toFixed()];

describe('average cost positions', () => {
  it('average up on adds, realize against the average on reductions', () => {
    let p = applyFill(flat, 'BUY', new Dec(10), new Dec(100)).position;
    p = applyFill(p, 'BUY', new Dec(10), new Dec(110)).position;
    expect(view(p)).toEqual(['20', '105', '0']);
    const r = applyFill(p, 'SELL', new Dec(5), new Dec(120));
    expect(r.realized.toFixed()).toBe('75');
    expect(view(r.position)).toEqual(['15', '105', '75']);
  });

  it('crossing through zero realizes the closed part and opens the rest at the fill price', () => {
    const long = applyFill(flat, 'BUY', new Dec(10), new Dec(100)).position;
    const r = applyFill(long, 'SELL', new Dec(15), new Dec(90));
    expect(r.realized.toFixed()).toBe('-100');
    expect(view(r.position)).toEqual(['-5', '90', '-100']);
    const cover = applyFill(r.position, 'BUY', new Dec(5), new Dec(80));
    expect(view(cover.position)).toEqual(['0', '0', '-50']);
  });

  it('values a position at a mark', () => {
    const p = applyFill(flat, 'SELL', new Dec(4), new Dec(50)).position;
    const v = valuation(p, new Dec(45));
    expect([v.marketValue?.toFixed(), v.unrealized?.toFixed()]).toEqual(['-180', '20']);
    expect(valuation(p, null)).toEqual({ marketValue: null, unrealized: null });
  });
});
