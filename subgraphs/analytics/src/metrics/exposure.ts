import { Dec } from '../../../../lib/decimal.js';
/**
 * Exposure and concentration of the open positions, in exact decimals (money stays decimal).
 * Market value is `quantity * price` (negative for shorts). Gross exposure is the sum of absolute
 * market values, net exposure their signed sum. Shares are of gross exposure; concentration is the
 * largest single-symbol share and the Herfindahl-Hirschman index `sum(share^2)` (1 = one position,
 * 1/N = N equal positions; 0 with no positions).
 */

/** An open position valued at a price. */
export interface PricedPosition {
  symbol: string;
  assetClass: string;
  quantity: string;
  price: string;
}

/** Exposure of one group (symbol or asset class). */
export interface ExposureLine {
  key: string;
  gross: Dec;
  net: Dec;
  /** Fraction of total gross exposure (0 when there is none). */
  share: number;
}

export interface ExposureSummary {
  gross: Dec;
  net: Dec;
  bySymbol: ExposureLine[];
  byAssetClass: ExposureLine[];
  largestSymbol: string | null;
  largestShare: number | null;
  herfindahl: number;
}

function group(rows: readonly { key: string; value: Dec }[], total: Dec): ExposureLine[] {
  const map = new Map<string, { gross: Dec; net: Dec }>();
  for (const r of rows) {
    const g = map.get(r.key) ?? { gross: new Dec(0), net: new Dec(0) };
    map.set(r.key, { gross: g.gross.plus(r.value.abs()), net: g.net.plus(r.value) });
  }
  return [...map.entries()]
    .map(([key, v]) => ({ key, ...v, share: total.isZero() ? 0 : v.gross.div(total).toNumber() }))
    .sort((a, b) => b.gross.comparedTo(a.gross) || a.key.localeCompare(b.key));
}

/** Gross/net exposure, exposure by symbol and by asset class, and concentration. */
export function exposureSummary(positions: readonly PricedPosition[]): ExposureSummary {
  const valued = positions
    .map((p) => ({ ...p, value: new Dec(p.quantity).times(p.price) }))
    .filter((p) => !p.value.isZero());
  const gross = valued.reduce((s, p) => s.plus(p.value.abs()), new Dec(0));
  const net = valued.reduce((s, p) => s.plus(p.value), new Dec(0));
  const bySymbol = group(
    valued.map((p) => ({ key: p.symbol, value: p.value })),
    gross,
  );
  const byAssetClass = group(
    valued.map((p) => ({ key: p.assetClass, value: p.value })),
    gross,
  );
  const top = bySymbol[0];
  return {
    gross,
    net,
    bySymbol,
    byAssetClass,
    largestSymbol: top?.key ?? null,
    largestShare: top ? top.share : null,
    herfindahl: bySymbol.reduce((s, l) => s + l.share * l.share, 0),
  };
}
