// Positions and account: cash, buying power, equity, realized and unrealized P&L. Refreshed after
// every execution (the desk passes a counter) and every few seconds for marks.
import { useQuery } from '@apollo/client/react';
import { useEffect } from 'react';
import { useDesk } from '../desk-context';
import { describeError } from '../errors';
import { num, tone } from '../format';
import { graphql } from '../gql';
import { EmptyRow, ErrorText, Scroll, TableHead } from '../ui';

const PositionsQuery = graphql(`
  query Positions($accountId: ID!) {
    account(id: $accountId) {
      id
      name
      currency
      cash
      buyingPower
      equity
      marketValue
      realizedPnl
      unrealizedPnl
      tradingState
      positions {
        symbol
        quantity
        averagePrice
        lastPrice
        marketValue
        unrealizedPnl
        realizedPnl
      }
    }
  }
`);

/** The account summary and the "Positions" table. */
export function Positions({ refreshKey }: { refreshKey: number }): React.JSX.Element {
  const { accountId } = useDesk();
  const q = useQuery(PositionsQuery, { variables: { accountId }, pollInterval: 5000 });
  const { refetch } = q;
  useEffect(() => {
    if (refreshKey > 0) void refetch();
  }, [refreshKey, refetch]);
  const a = q.data?.account;
  return (
    <section className="panel" aria-labelledby="positions-title">
      <h2 id="positions-title">Positions and account</h2>
      <ErrorText message={q.error ? describeError(q.error) : undefined} />
      {a && (
        <dl className="stats" aria-label="Account">
          <Stat label="Cash" value={num(a.cash)} />
          <Stat label="Buying power" value={num(a.buyingPower)} />
          <Stat label="Equity" value={num(a.equity)} />
          <Stat label="Realized P&L" value={num(a.realizedPnl, 2, true)} tone={tone(a.realizedPnl)} />
          <Stat label="Unrealized P&L" value={num(a.unrealizedPnl, 2, true)} tone={tone(a.unrealizedPnl)} />
          <Stat label="State" value={a.tradingState} />
        </dl>
      )}
      <Scroll label="Positions list">
        <table aria-label="Positions" className="grid">
          <TableHead
            columns={[
              'Symbol',
              'Quantity',
              'Average price',
              'Last',
              'Market value',
              'Unrealized P&L',
              'Realized P&L',
            ]}
            numeric={['Quantity', 'Average price', 'Last', 'Market value', 'Unrealized P&L', 'Realized P&L']}
          />
          <tbody>
            {a?.positions.length === 0 && <EmptyRow colSpan={7} text="No positions." />}
            {a?.positions.map((p) => (
              <tr key={p.symbol}>
                <td>{p.symbol}</td>
                <td className="num">{num(p.quantity, 0)}</td>
                <td className="num">{num(p.averagePrice, 4)}</td>
                <td className="num">{num(p.lastPrice, 4)}</td>
                <td className="num">{num(p.marketValue)}</td>
                <td className={`num ${tone(p.unrealizedPnl)}`}>{num(p.unrealizedPnl, 2, true)}</td>
                <td className={`num ${tone(p.realizedPnl)}`}>{num(p.realizedPnl, 2, true)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Scroll>
    </section>
  );
}

/** One figure of a stats list. */
export function Stat({
  label,
  value,
  tone: t = '',
}: {
  label: string;
  value: string;
  tone?: string;
}): React.JSX.Element {
  return (
    <div>
      <dt>{label}</dt>
      <dd className={t}>{value}</dd>
    </div>
  );
}
