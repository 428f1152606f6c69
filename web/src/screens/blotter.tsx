// The orders blotter (live through orderUpdated; cancel and replace) and the trades list (live
// through tradeExecuted). A replace sends a new clientOrderId, as the API requires.
import { useMutation, useQuery } from '@apollo/client/react';
import { useState, type FormEvent } from 'react';
import { useDesk } from '../desk-context';
import { describeError, describeRejectReason } from '../errors';
import { freshId, num, time } from '../format';
import { graphql } from '../gql';
import { EmptyRow, ErrorText, Scroll, TableHead } from '../ui';
import type { OrderFieldsFragment } from '../gql/graphql';
import { useLiveList } from '../live';

const OrdersQuery = graphql(`
  query Orders($accountId: ID!) {
    account(id: $accountId) {
      id
      orders(first: 100) {
        ...OrderFields
      }
      trades(first: 100) {
        ...TradeFields
      }
    }
  }
`);

graphql(`
  fragment TradeFields on Trade {
    id
    symbol
    side
    quantity
    price
    fee
    executedAt
  }
`);

const OrderUpdatedSubscription = graphql(`
  subscription OrderUpdated($accountId: ID!) {
    orderUpdated(accountId: $accountId) {
      ...OrderFields
    }
  }
`);

export const TradeExecutedSubscription = graphql(`
  subscription TradeExecuted($accountId: ID!) {
    tradeExecuted(accountId: $accountId) {
      ...TradeFields
    }
  }
`);

const CancelOrderMutation = graphql(`
  mutation CancelOrder($id: ID!) {
    cancelOrder(id: $id) {
      ...OrderFields
    }
  }
`);

const ReplaceOrderMutation = graphql(`
  mutation ReplaceOrder($id: ID!, $input: ReplaceOrderInput!) {
    replaceOrder(id: $id, input: $input) {
      ...OrderFields
    }
  }
`);

const OPEN = new Set(['NEW', 'PARTIALLY_FILLED']);

const byNewest = <T extends { createdAt?: string; executedAt?: string }>(a: T, b: T): number =>
  (b.createdAt ?? b.executedAt ?? '').localeCompare(a.createdAt ?? a.executedAt ?? '');

/** Orders and trades of the desk's account. */
export function Blotter({ onTrade }: { onTrade?: () => void }): React.JSX.Element {
  const { accountId } = useDesk();
  const q = useQuery(OrdersQuery, { variables: { accountId } });
  const orders = useLiveList(
    q.data?.account?.orders,
    OrderUpdatedSubscription,
    { accountId },
    (d) => d.orderUpdated,
  );
  const trades = useLiveList(
    q.data?.account?.trades,
    TradeExecutedSubscription,
    { accountId },
    (d) => d.tradeExecuted,
    onTrade,
  );
  const [cancel] = useMutation(CancelOrderMutation);
  const [error, setError] = useState('');
  const [replacing, setReplacing] = useState<string | undefined>();

  const onCancel = async (id: string): Promise<void> => {
    setError('');
    await cancel({ variables: { id } }).catch((err: unknown) => setError(describeError(err)));
  };
  const sortedOrders = [...orders].sort(byNewest);
  return (
    <>
      <section className="panel" aria-labelledby="orders-title">
        <h2 id="orders-title">Orders</h2>
        <ErrorText message={error} />
        <Scroll label="Orders list">
          <table aria-labelledby="orders-title" className="grid">
            <TableHead
              columns={['Time', 'Symbol', 'Side', 'Type', 'Quantity', 'Filled', 'Price', 'TIF', 'Status']}
              numeric={['Quantity', 'Filled', 'Price']}
              actions
            />
            <tbody>
              {sortedOrders.length === 0 && (
                <EmptyRow colSpan={10} text={q.data ? 'No orders yet.' : 'Loading…'} />
              )}
              {sortedOrders.map((o) => (
                <OrderRow
                  key={o.id}
                  order={o}
                  replacing={replacing === o.id}
                  onCancel={() => void onCancel(o.id)}
                  onReplace={() => setReplacing(replacing === o.id ? undefined : o.id)}
                  onReplaced={() => setReplacing(undefined)}
                />
              ))}
            </tbody>
          </table>
        </Scroll>
      </section>
      <section className="panel" aria-labelledby="trades-title">
        <h2 id="trades-title">Trades</h2>
        <Scroll label="Trades list">
          <table aria-labelledby="trades-title" className="grid">
            <TableHead
              columns={['Time', 'Symbol', 'Side', 'Quantity', 'Price', 'Fee']}
              numeric={['Quantity', 'Price', 'Fee']}
            />
            <tbody>
              {trades.length === 0 && <EmptyRow colSpan={6} text={q.data ? 'No trades yet.' : 'Loading…'} />}
              {[...trades].sort(byNewest).map((t) => (
                <tr key={t.id}>
                  <td>{time(t.executedAt)}</td>
                  <td>{t.symbol}</td>
                  <td className={t.side === 'BUY' ? 'up' : 'down'}>{t.side}</td>
                  <td className="num">{num(t.quantity, 0)}</td>
                  <td className="num">{num(t.price, 4)}</td>
                  <td className="num">{num(t.fee)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Scroll>
      </section>
    </>
  );
}

interface OrderRowProps {
  order: OrderFieldsFragment;
  replacing: boolean;
  onCancel: () => void;
  onReplace: () => void;
  onReplaced: () => void;
}

function OrderRow({
  order: o,
  replacing,
  onCancel,
  onReplace,
  onReplaced,
}: OrderRowProps): React.JSX.Element {
  const open = OPEN.has(o.status);
  const price = o.averageFillPrice ?? o.limitPrice ?? o.stopPrice;
  return (
    <>
      <tr>
        <td>{time(o.createdAt)}</td>
        <td>{o.symbol}</td>
        <td className={o.side === 'BUY' ? 'up' : 'down'}>{o.side}</td>
        <td>{o.type}</td>
        <td className="num">{num(o.quantity, 0)}</td>
        <td className="num">{num(o.filledQuantity, 0)}</td>
        <td className="num">{num(price, 4)}</td>
        <td>{o.timeInForce}</td>
        <td>
          <span className={`badge status-${o.status.toLowerCase()}`}>{o.status}</span>
          {o.rejectReason && (
            <span className="small muted"> {describeRejectReason(o.rejectReason, o.rejectMessage)}</span>
          )}
        </td>
        <td className="actions">
          {open && (
            <>
              <button
                type="button"
                className="small-btn"
                aria-label={`Cancel order ${o.symbol} ${o.id.slice(0, 8)}`}
                onClick={onCancel}
              >
                Cancel
              </button>
              {/* Not "Replace order …": by name, that would also match the ticket's "Place order". */}
              <button
                type="button"
                className="small-btn secondary"
                aria-expanded={replacing}
                aria-label={`Replace ${o.symbol} order ${o.id.slice(0, 8)}`}
                onClick={onReplace}
              >
                Replace
              </button>
            </>
          )}
        </td>
      </tr>
      {replacing && open && (
        <tr>
          <td colSpan={10}>
            <ReplaceForm order={o} onDone={onReplaced} />
          </td>
        </tr>
      )}
    </>
  );
}

function ReplaceForm({
  order,
  onDone,
}: {
  order: OrderFieldsFragment;
  onDone: () => void;
}): React.JSX.Element {
  const [quantity, setQuantity] = useState(order.quantity);
  const [limitPrice, setLimitPrice] = useState(order.limitPrice ?? '');
  const [stopPrice, setStopPrice] = useState(order.stopPrice ?? '');
  const [clientOrderId] = useState(freshId);
  const [replace, { loading }] = useMutation(ReplaceOrderMutation);
  const [error, setError] = useState('');
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    try {
      const { data } = await replace({
        variables: {
          id: order.id,
          input: {
            clientOrderId,
            quantity,
            ...(order.limitPrice !== null && order.limitPrice !== undefined ? { limitPrice } : {}),
            ...(order.stopPrice !== null && order.stopPrice !== undefined ? { stopPrice } : {}),
          },
        },
      });
      if (data?.replaceOrder.status === 'REJECTED') {
        setError(
          `Replacement refused: ${describeRejectReason(data.replaceOrder.rejectReason, data.replaceOrder.rejectMessage)}`,
        );
        return;
      }
      onDone();
    } catch (err) {
      setError(describeError(err));
    }
  };
  return (
    <form
      className="row replace"
      onSubmit={(e) => void submit(e)}
      aria-label={`Replace ${order.symbol} order`}
    >
      <label className="inline">
        New quantity
        <input inputMode="decimal" value={quantity} onChange={(e) => setQuantity(e.target.value)} />
      </label>
      {order.limitPrice && (
        <label className="inline">
          New limit price
          <input inputMode="decimal" value={limitPrice} onChange={(e) => setLimitPrice(e.target.value)} />
        </label>
      )}
      {order.stopPrice && (
        <label className="inline">
          New stop price
          <input inputMode="decimal" value={stopPrice} onChange={(e) => setStopPrice(e.target.value)} />
        </label>
      )}
      <button type="submit" disabled={loading}>
        Send replacement
      </button>
      {error && (
        <span role="alert" className="error">
          {error}
        </span>
      )}
    </form>
  );
}
