// Market watch: one row per instrument, its first cell the symbol; live last, change since the
// desk opened (from the quote at load), bid/ask and a sparkline of recent ticks.
import { memo, useEffect } from 'react';
import { bootDone, bootRecording } from '../boot-timing';
import type { DeskInstrument } from '../desk-context';
import { decimalsOf, num, tone } from '../format';
import type { LivePrice } from '../live';
import { Scroll, TableHead } from '../ui';

interface Props {
  instruments: readonly DeskInstrument[];
  prices: ReadonlyMap<string, LivePrice>;
  onTrade: (symbol: string) => void;
}

/** The "Market watch" table. */
export function MarketWatch({ instruments, prices, onTrade }: Props): React.JSX.Element {
  const allPriced = instruments.every((i) => i.quote || prices.has(i.symbol));
  useEffect(() => {
    if (allPriced && bootRecording()) bootDone();
  }, [allPriced]);
  return (
    <section className="panel" aria-labelledby="mw-title">
      <h2 id="mw-title">Market watch</h2>
      <Scroll label="Market watch list">
        <table aria-labelledby="mw-title" className="grid">
          <TableHead
            columns={['Symbol', 'Name', 'Last', 'Change', 'Bid', 'Ask', 'Trend']}
            numeric={['Last', 'Change', 'Bid', 'Ask']}
            actions
          />
          <tbody>
            {instruments.map((i) => (
              <Row key={i.symbol} instrument={i} live={prices.get(i.symbol)} onTrade={onTrade} />
            ))}
          </tbody>
        </table>
      </Scroll>
    </section>
  );
}

interface RowProps {
  instrument: DeskInstrument;
  live: LivePrice | undefined;
  onTrade: (symbol: string) => void;
}

const Row = memo(function Row({ instrument: i, live, onTrade }: RowProps): React.JSX.Element {
  const digits = decimalsOf(i.tickSize);
  const reference = Number(i.quote?.last ?? live?.history[0] ?? NaN);
  const last = live?.price ?? (i.quote ? Number(i.quote.last) : undefined);
  const change = last !== undefined && Number.isFinite(reference) ? last - reference : undefined;
  const changePct = change !== undefined && reference ? change / reference : undefined;
  return (
    <tr>
      <td>
        <a href={`#/instrument/${encodeURIComponent(i.symbol)}`}>{i.symbol}</a>
      </td>
      <td className="muted name" title={i.name}>
        {i.name}
      </td>
      <td className="num price" data-testid={`price-${i.symbol}`}>
        {num(last, digits)}
      </td>
      <td className={`num ${tone(change)}`}>
        {num(change, digits, true)}
        {changePct !== undefined && <span className="small"> ({num(changePct * 100, 2, true)} %)</span>}
      </td>
      <td className="num">{num(live?.bid ?? i.quote?.bid, digits)}</td>
      <td className="num">{num(live?.ask ?? i.quote?.ask, digits)}</td>
      <td>
        <Sparkline values={live?.history ?? []} label={`${i.symbol} recent prices`} />
      </td>
      <td>
        <button
          type="button"
          className="small-btn"
          aria-label={`Trade ${i.symbol}`}
          onClick={() => onTrade(i.symbol)}
        >
          Trade
        </button>
      </td>
    </tr>
  );
});

/** A tiny SVG line of `values` (no chart library: 50 of these redraw several times a second). */
export function Sparkline({
  values,
  label,
}: {
  values: readonly number[];
  label: string;
}): React.JSX.Element {
  const w = 72;
  const h = 24;
  if (values.length < 2)
    return <svg width={w} height={h} role="img" aria-label={`${label}: waiting for ticks`} />;
  const min = Math.min(...values);
  const max = Math.max(...values);
  const span = max - min || 1;
  const step = w / (values.length - 1);
  const points = values.map(
    (v, n) => `${(n * step).toFixed(1)},${(h - 2 - ((v - min) / span) * (h - 4)).toFixed(1)}`,
  );
  const rising = (values.at(-1) ?? 0) >= (values[0] ?? 0);
  return (
    <svg width={w} height={h} role="img" aria-label={`${label}: ${rising ? 'rising' : 'falling'}`}>
      <polyline
        points={points.join(' ')}
        fill="none"
        className={rising ? 'spark-up' : 'spark-down'}
        strokeWidth="1.5"
      />
    </svg>
  );
}
