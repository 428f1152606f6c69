// One instrument: candles at each interval with indicators overlaid (SMA, EMA, Bollinger bands;
// volume below), the last candle updated live from priceUpdated.
import { useQuery } from '@apollo/client/react';
import { useMemo, useState } from 'react';
import { Chart, ChartCredit, ts, type CandlePoint, type SeriesSpec, type ValuePoint } from '../charts';
import { useDesk } from '../desk-context';
import { describeError } from '../errors';
import { decimalsOf, num } from '../format';
import { graphql } from '../gql';
import type { CandleInterval } from '../gql/graphql';
import { useLivePrices } from '../live';
import { ErrorText } from '../ui';

const CandlesQuery = graphql(`
  query Candles($symbol: ID!, $interval: CandleInterval!) {
    candles(symbol: $symbol, interval: $interval, limit: 300) {
      start
      open
      high
      low
      close
      volume
    }
    indicators(symbol: $symbol, interval: $interval, limit: 300) {
      sma(period: 20) {
        time
        value
      }
      ema(period: 50) {
        time
        value
      }
      bollinger(period: 20) {
        time
        upper
        lower
      }
    }
  }
`);

const INTERVALS: readonly [CandleInterval, string, number][] = [
  ['M1', '1 min', 60],
  ['M5', '5 min', 300],
  ['H1', '1 hour', 3600],
  ['D1', '1 day', 86_400],
];
const INDICATORS = [
  ['sma', 'SMA 20', '#f6c343'],
  ['ema', 'EMA 50', '#7aa2ff'],
  ['bollinger', 'Bollinger bands', '#b48ead'],
] as const;
type Indicator = (typeof INDICATORS)[number][0];

const points = (rows: readonly { time: string; value: string }[]): ValuePoint[] =>
  rows.map((r) => ({ time: ts(r.time), value: Number(r.value) }));

/** The instrument screen. */
export function InstrumentScreen({ symbol: routed }: { symbol: string | undefined }): React.JSX.Element {
  const { instruments } = useDesk();
  const symbol =
    routed && instruments.some((i) => i.symbol === routed) ? routed : (instruments[0]?.symbol ?? '');
  const [interval, setBarInterval] = useState<CandleInterval>('M1');
  const [shown, setShown] = useState<ReadonlySet<Indicator>>(new Set(['sma']));
  const q = useQuery(CandlesQuery, { variables: { symbol, interval }, fetchPolicy: 'network-only' });
  const live = useLivePrices(useMemo(() => [symbol], [symbol])).get(symbol);
  const seconds = INTERVALS.find(([i]) => i === interval)?.[2] ?? 60;
  const instrument = instruments.find((i) => i.symbol === symbol);

  const series = useMemo<SeriesSpec[]>(() => {
    const d = q.data;
    if (!d) return [];
    const out: SeriesSpec[] = [
      {
        kind: 'candles',
        data: d.candles.map((c) => ({
          time: ts(c.start),
          open: Number(c.open),
          high: Number(c.high),
          low: Number(c.low),
          close: Number(c.close),
        })),
      },
    ];
    if (shown.has('sma'))
      out.push({ kind: 'line', data: points(d.indicators.sma), color: '#f6c343', title: 'SMA 20' });
    if (shown.has('ema'))
      out.push({ kind: 'line', data: points(d.indicators.ema), color: '#7aa2ff', title: 'EMA 50' });
    if (shown.has('bollinger')) {
      const b = d.indicators.bollinger;
      out.push({
        kind: 'line',
        data: points(b.map((p) => ({ time: p.time, value: p.upper }))),
        color: '#b48ead',
      });
      out.push({
        kind: 'line',
        data: points(b.map((p) => ({ time: p.time, value: p.lower }))),
        color: '#b48ead',
      });
    }
    out.push({
      kind: 'histogram',
      data: d.candles.map((c) => ({ time: ts(c.start), value: Number(c.volume) })),
      color: '#3a4657',
      pane: 1,
      title: 'Volume',
    });
    return out;
  }, [q.data, shown]);

  // The live bar: the last candle extended by the latest tick, or a new bar when the tick opens one.
  const liveBar = useMemo<CandlePoint | undefined>(() => {
    const last = q.data?.candles.at(-1);
    if (!live) return undefined;
    const bucket = (Math.floor(Date.parse(live.timestamp) / 1000 / seconds) * seconds) as CandlePoint['time'];
    if (last && ts(last.start) === bucket) {
      return {
        time: bucket,
        open: Number(last.open),
        high: Math.max(Number(last.high), live.price),
        low: Math.min(Number(last.low), live.price),
        close: live.price,
      };
    }
    if (last && ts(last.start) > bucket) return undefined;
    return { time: bucket, open: live.price, high: live.price, low: live.price, close: live.price };
  }, [live, q.data, seconds]);

  const toggle = (i: Indicator): void =>
    setShown((s) => {
      const n = new Set(s);
      if (!n.delete(i)) n.add(i);
      return n;
    });

  return (
    <section className="panel" aria-labelledby="instrument-title">
      <div className="row wrap">
        <h2 id="instrument-title">
          {symbol} <span className="muted">{instrument?.name}</span>
        </h2>
        <span className="big">
          {num(live?.price ?? instrument?.quote?.last, decimalsOf(instrument?.tickSize))}
        </span>
        <div className="spacer" />
        <label className="inline">
          Instrument
          <select
            value={symbol}
            onChange={(e) => (location.hash = `#/instrument/${encodeURIComponent(e.target.value)}`)}
          >
            {instruments.map((i) => (
              <option key={i.symbol} value={i.symbol}>
                {i.symbol}
              </option>
            ))}
          </select>
        </label>
      </div>
      <div className="row wrap">
        <div role="group" aria-label="Interval" className="segmented">
          {INTERVALS.map(([i, label]) => (
            <button key={i} type="button" aria-pressed={interval === i} onClick={() => setBarInterval(i)}>
              {label}
            </button>
          ))}
        </div>
        <fieldset className="inline-set">
          <legend className="sr-only">Indicators</legend>
          {INDICATORS.map(([i, label, color]) => (
            <label key={i} className="inline">
              <input type="checkbox" checked={shown.has(i)} onChange={() => toggle(i)} />
              <span className="swatch" style={{ background: color }} aria-hidden="true" />
              {label}
            </label>
          ))}
        </fieldset>
      </div>
      <ErrorText message={q.error ? describeError(q.error) : undefined} />
      <Chart label={`${symbol} candles, ${interval}`} series={series} live={liveBar} height={440} />
      <ChartCredit />
    </section>
  );
}
