// Reports: performance (equity curve and drawdown charts, returns table, Sharpe and friends, trade
// statistics) and risk (VaR / expected shortfall, exposure, concentration).
import { useQuery } from '@apollo/client/react';
import { useMemo } from 'react';
import { Chart, ChartCredit, ts, type SeriesSpec } from '../charts';
import { useDesk } from '../desk-context';
import { describeError } from '../errors';
import { num, pct, time } from '../format';
import { graphql } from '../gql';
import { Stat } from './positions';
import { EmptyRow, TableHead } from '../ui';

const ReportsQuery = graphql(`
  query Reports($accountId: ID!) {
    performanceReport(accountId: $accountId) {
      from
      to
      observations
      totalReturn
      annualizedReturn
      volatility
      sharpe
      sortino
      calmar
      maxDrawdown
      startEquity
      endEquity
      bestDay {
        at
        return
      }
      worstDay {
        at
        return
      }
      monthlyReturns {
        month
        return
      }
      equityCurve {
        at
        equity
        drawdown
      }
      trades {
        count
        wins
        losses
        winRate
        profitFactor
        totalPnl
      }
    }
    riskReport(accountId: $accountId) {
      equity
      valueAtRisk95
      expectedShortfall95
      valueAtRisk99
      expectedShortfall99
      varMethod
      horizonDays
      observations
      grossExposure
      netExposure
      exposureBySymbol {
        key
        gross
        net
        share
      }
      concentration {
        largestSymbol
        largestShare
        herfindahl
      }
    }
  }
`);

const ratio = (v: number | null | undefined): string => num(v, 2);

/** The reports screen. */
export function ReportsScreen(): React.JSX.Element {
  const { accountId } = useDesk();
  const q = useQuery(ReportsQuery, { variables: { accountId }, fetchPolicy: 'network-only' });
  const perf = q.data?.performanceReport;
  const risk = q.data?.riskReport;
  const equity = useMemo<SeriesSpec[]>(
    () =>
      perf
        ? [
            {
              kind: 'area',
              color: '#4f9dff',
              title: 'Equity',
              data: dedupe(perf.equityCurve.map((p) => ({ time: ts(p.at), value: Number(p.equity) }))),
            },
          ]
        : [],
    [perf],
  );
  const drawdown = useMemo<SeriesSpec[]>(
    () =>
      perf
        ? [
            {
              kind: 'area',
              color: '#ef5350',
              title: 'Drawdown',
              data: dedupe(perf.equityCurve.map((p) => ({ time: ts(p.at), value: -p.drawdown }))),
            },
          ]
        : [],
    [perf],
  );
  if (q.error) {
    return (
      <p role="alert" className="error">
        {describeError(q.error)}
      </p>
    );
  }
  if (!perf || !risk) {
    return (
      <p role="status" className="muted center">
        Loading reports…
      </p>
    );
  }
  return (
    <div className="reports">
      <section className="panel" aria-labelledby="perf-title">
        <h2 id="perf-title">Performance</h2>
        <p className="muted small">
          {perf.observations} observations, {time(perf.from, true)} – {time(perf.to, true)}
        </p>
        <dl className="stats" aria-label="Performance figures">
          <Stat label="Total return" value={pct(perf.totalReturn, 2, true)} />
          <Stat label="Annualized return" value={pct(perf.annualizedReturn, 2, true)} />
          <Stat label="Volatility" value={pct(perf.volatility)} />
          <Stat label="Sharpe" value={ratio(perf.sharpe)} />
          <Stat label="Sortino" value={ratio(perf.sortino)} />
          <Stat label="Calmar" value={ratio(perf.calmar)} />
          <Stat label="Max drawdown" value={pct(perf.maxDrawdown)} />
          <Stat label="Best day" value={pct(perf.bestDay?.return, 2, true)} />
          <Stat label="Worst day" value={pct(perf.worstDay?.return, 2, true)} />
          <Stat label="Trades" value={String(perf.trades.count)} />
          <Stat label="Win rate" value={pct(perf.trades.winRate)} />
          <Stat label="Profit factor" value={ratio(perf.trades.profitFactor)} />
        </dl>
        <h3 id="equity-title">Equity curve</h3>
        <Chart label="Equity curve" series={equity} height={260} />
        <h3>Drawdown</h3>
        <Chart label="Drawdown" series={drawdown} height={140} percent />
        <ChartCredit />
        <h3 id="returns-title">Monthly returns</h3>
        <table className="grid" aria-labelledby="returns-title">
          <TableHead columns={['Month', 'Return']} numeric={['Return']} />
          <tbody>
            {perf.monthlyReturns.length === 0 && <EmptyRow colSpan={2} text="Not enough history yet." />}
            {perf.monthlyReturns.map((m) => (
              <tr key={m.month}>
                <td>{m.month}</td>
                <td className={`num ${m.return >= 0 ? 'up' : 'down'}`}>{pct(m.return, 2, true)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section className="panel" aria-labelledby="risk-title">
        <h2 id="risk-title">Risk</h2>
        <p className="muted small">
          {risk.varMethod} VaR over {risk.horizonDays} day(s), {risk.observations} observations
        </p>
        <dl className="stats" aria-label="Risk figures">
          <Stat label="Equity" value={num(risk.equity)} />
          <Stat label="VaR 95 %" value={num(risk.valueAtRisk95)} />
          <Stat label="Expected shortfall 95 %" value={num(risk.expectedShortfall95)} />
          <Stat label="VaR 99 %" value={num(risk.valueAtRisk99)} />
          <Stat label="Expected shortfall 99 %" value={num(risk.expectedShortfall99)} />
          <Stat label="Gross exposure" value={num(risk.grossExposure)} />
          <Stat label="Net exposure" value={num(risk.netExposure)} />
          <Stat label="Largest position" value={risk.concentration.largestSymbol ?? '—'} />
          <Stat label="Largest share" value={pct(risk.concentration.largestShare)} />
          <Stat label="Herfindahl index" value={num(risk.concentration.herfindahl, 3)} />
        </dl>
        <h3 id="exposure-title">Exposure by symbol</h3>
        <table className="grid" aria-labelledby="exposure-title">
          <TableHead columns={['Symbol', 'Gross', 'Net', 'Share']} numeric={['Gross', 'Net', 'Share']} />
          <tbody>
            {risk.exposureBySymbol.length === 0 && <EmptyRow colSpan={4} text="No exposure." />}
            {risk.exposureBySymbol.map((e) => (
              <tr key={e.key}>
                <td>{e.key}</td>
                <td className="num">{num(e.gross)}</td>
                <td className="num">{num(e.net)}</td>
                <td className="num">{pct(e.share)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </div>
  );
}

/** lightweight-charts needs strictly increasing times: keep the last point of each second. */
function dedupe<T extends { time: number }>(points: T[]): T[] {
  const out: T[] = [];
  for (const p of points) {
    if (out.length > 0 && out[out.length - 1]!.time === p.time) out[out.length - 1] = p;
    else if (out.length === 0 || out[out.length - 1]!.time < p.time) out.push(p);
  }
  return out;
}
