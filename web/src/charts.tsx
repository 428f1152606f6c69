// Charts on TradingView's lightweight-charts (canvas). One component takes series specs; data is
// set when it changes, and `live` points update the last bar without redrawing the whole series.
import {
  AreaSeries,
  CandlestickSeries,
  ColorType,
  createChart,
  HistogramSeries,
  LineSeries,
  type IChartApi,
  type ISeriesApi,
  type SeriesType,
  type UTCTimestamp,
} from 'lightweight-charts';
import { useEffect, useRef } from 'react';

/** Seconds since the epoch of an ISO timestamp, as lightweight-charts wants it. */
export const ts = (iso: string): UTCTimestamp => Math.floor(Date.parse(iso) / 1000) as UTCTimestamp;

export interface CandlePoint {
  time: UTCTimestamp;
  open: number;
  high: number;
  low: number;
  close: number;
}
export interface ValuePoint {
  time: UTCTimestamp;
  value: number;
}

export type SeriesSpec =
  | { kind: 'candles'; data: readonly CandlePoint[] }
  | {
      kind: 'line' | 'area' | 'histogram';
      data: readonly ValuePoint[];
      color: string;
      pane?: number;
      title?: string;
    };

interface Props {
  /** Accessible description of the chart (canvas has no text of its own). */
  label: string;
  series: readonly SeriesSpec[];
  /** The last bar of the first series, updated in place (live candles). */
  live?: CandlePoint | undefined;
  height?: number;
  /** Shown as percentages (returns, drawdowns). */
  percent?: boolean;
}

const css = (name: string, fallback: string): string =>
  getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;

/** A chart; see {@link Props}. */
export function Chart({ label, series, live, height = 320, percent = false }: Props): React.JSX.Element {
  const el = useRef<HTMLDivElement>(null);
  const chart = useRef<IChartApi | undefined>(undefined);
  const handles = useRef<ISeriesApi<SeriesType>[]>([]);

  useEffect(() => {
    if (!el.current) return undefined;
    const c = createChart(el.current, {
      autoSize: true,
      height,
      layout: {
        background: { type: ColorType.Solid, color: 'transparent' },
        textColor: css('--muted', '#9aa4b2'),
        attributionLogo: false,
      },
      grid: {
        vertLines: { color: css('--grid', '#1f2733') },
        horzLines: { color: css('--grid', '#1f2733') },
      },
      timeScale: { timeVisible: true, secondsVisible: false },
      localization: percent ? { priceFormatter: (v: number) => `${(v * 100).toFixed(2)} %` } : {},
    });
    chart.current = c;
    return () => {
      handles.current = [];
      chart.current = undefined;
      c.remove();
    };
  }, [height, percent]);

  useEffect(() => {
    const c = chart.current;
    if (!c) return;
    for (const h of handles.current) c.removeSeries(h);
    handles.current = series.map((s) => {
      if (s.kind === 'candles') {
        const h = c.addSeries(CandlestickSeries, {
          upColor: css('--up', '#26a69a'),
          downColor: css('--down', '#ef5350'),
          wickUpColor: css('--up', '#26a69a'),
          wickDownColor: css('--down', '#ef5350'),
          borderVisible: false,
        });
        h.setData([...s.data]);
        return h;
      }
      const def = s.kind === 'line' ? LineSeries : s.kind === 'area' ? AreaSeries : HistogramSeries;
      const opts =
        s.kind === 'area'
          ? {
              lineColor: s.color,
              topColor: `${s.color}55`,
              bottomColor: `${s.color}05`,
              title: s.title ?? '',
            }
          : { color: s.color, title: s.title ?? '', lineWidth: 2 as const };
      const h = c.addSeries(def, opts, s.pane ?? 0) as ISeriesApi<SeriesType>;
      h.setData([...s.data]);
      return h;
    });
    c.timeScale().fitContent();
  }, [series]);

  useEffect(() => {
    const first = handles.current[0];
    if (live && first) first.update(live);
  }, [live]);

  return (
    <figure className="chart" aria-label={label} role="img">
      <div ref={el} style={{ height }} />
    </figure>
  );
}

/** The credit lightweight-charts' licence asks for, as text instead of its logo link over the chart. */
export function ChartCredit(): React.JSX.Element {
  return (
    <p className="small muted">
      Charts by{' '}
      <a href="https://www.tradingview.com/" rel="noreferrer noopener" target="_blank">
        TradingView Lightweight Charts
      </a>
      .
    </p>
  );
}
