// The order ticket: every order type and time in force, a preview through previewOrder that says
// in words why an order would be refused, and placement under a clientOrderId chosen once per order:
// a retry after a network error sends the same id, so the order is placed at most once.
import { useLazyQuery, useMutation } from '@apollo/client/react';
import { useEffect, useState, type FormEvent } from 'react';
import { useDesk } from '../desk-context';
import { describeError, describeRejectReason, isNetworkError } from '../errors';
import { decimalsOf, freshId, num } from '../format';
import { graphql } from '../gql';
import type { OrderType, Side, TimeInForce } from '../gql/graphql';

const PreviewOrderQuery = graphql(`
  query PreviewOrder($input: PlaceOrderInput!) {
    previewOrder(input: $input) {
      accepted
      rejectReason
      message
      estimatedPrice
      estimatedNotional
      estimatedFee
      reservation
      buyingPower
      buyingPowerAfter
    }
  }
`);

export const OrderFields = graphql(`
  fragment OrderFields on Order {
    id
    clientOrderId
    symbol
    side
    type
    timeInForce
    quantity
    limitPrice
    stopPrice
    status
    filledQuantity
    averageFillPrice
    rejectReason
    rejectMessage
    createdAt
  }
`);

const PlaceOrderMutation = graphql(`
  mutation PlaceOrder($input: PlaceOrderInput!) {
    placeOrder(input: $input) {
      ...OrderFields
    }
  }
`);

const ORDER_TYPES: readonly OrderType[] = ['MARKET', 'LIMIT', 'STOP', 'STOP_LIMIT'];
const TIFS: readonly [TimeInForce, string][] = [
  ['DAY', 'Day'],
  ['GTC', 'Good till canceled'],
  ['IOC', 'Immediate or cancel'],
  ['FOK', 'Fill or kill'],
];

interface Props {
  symbol: string;
  onSymbol: (symbol: string) => void;
  lastPrice: number | undefined;
}

/** The order ticket panel. */
export function OrderTicket({ symbol, onSymbol, lastPrice }: Props): React.JSX.Element {
  const { accountId, instruments, role } = useDesk();
  const [side, setSide] = useState<Side>('BUY');
  const [type, setType] = useState<OrderType>('MARKET');
  const [quantity, setQuantity] = useState('1');
  const [limitPrice, setLimitPrice] = useState('');
  const [stopPrice, setStopPrice] = useState('');
  const [tif, setTif] = useState<TimeInForce>('DAY');
  const [clientOrderId, setClientOrderId] = useState(freshId);
  const [result, setResult] = useState<{ text: string; ok: boolean; retry?: boolean } | undefined>();
  const [preview, previewState] = useLazyQuery(PreviewOrderQuery, { fetchPolicy: 'no-cache' });
  const [place, placing] = useMutation(PlaceOrderMutation);
  const needsLimit = type === 'LIMIT' || type === 'STOP_LIMIT';
  const needsStop = type === 'STOP' || type === 'STOP_LIMIT';
  const instrument = instruments.find((i) => i.symbol === symbol);
  const digits = decimalsOf(instrument?.tickSize);

  // A changed order is a new order: it gets a new idempotency key and the old preview goes.
  useEffect(() => {
    setClientOrderId(freshId());
    setResult(undefined);
  }, [symbol, side, type, quantity, limitPrice, stopPrice, tif]);

  const input = {
    accountId,
    clientOrderId,
    symbol,
    side,
    type,
    quantity: quantity.trim(),
    timeInForce: tif,
    ...(needsLimit ? { limitPrice: limitPrice.trim() } : {}),
    ...(needsStop ? { stopPrice: stopPrice.trim() } : {}),
  };

  const onPreview = async (): Promise<void> => {
    setResult(undefined);
    const r = await preview({ variables: { input } }).catch((err: unknown) => ({
      error: err,
      data: undefined,
    }));
    if (r.error) setResult({ text: describeError(r.error), ok: false });
  };
  const onPlace = async (e?: FormEvent): Promise<void> => {
    e?.preventDefault();
    try {
      const { data } = await place({ variables: { input } });
      const order = data?.placeOrder;
      if (!order) return;
      if (order.status === 'REJECTED') {
        setResult({
          text: `Rejected: ${describeRejectReason(order.rejectReason, order.rejectMessage)}`,
          ok: false,
        });
      } else {
        setResult({
          text: `Order ${order.side.toLowerCase()} ${order.quantity} ${order.symbol}: ${order.status}.`,
          ok: true,
        });
      }
      setClientOrderId(freshId());
    } catch (err) {
      // Same clientOrderId on retry: the server returns the first order if it was placed after all.
      setResult({ text: describeError(err), ok: false, retry: isNetworkError(err) });
    }
  };

  const p = previewState.data?.previewOrder;
  const readOnly = role === 'VIEWER';
  return (
    <section className="panel" aria-labelledby="ticket-title">
      <h2 id="ticket-title">Order ticket</h2>
      <form className="ticket" onSubmit={(e) => void onPlace(e)}>
        <label>
          Symbol
          <select value={symbol} onChange={(e) => onSymbol(e.target.value)}>
            {instruments.map((i) => (
              <option key={i.symbol} value={i.symbol}>
                {i.symbol}
              </option>
            ))}
          </select>
        </label>
        <label>
          Side
          <select value={side} onChange={(e) => setSide(e.target.value as Side)}>
            <option value="BUY">Buy</option>
            <option value="SELL">Sell</option>
          </select>
        </label>
        <label>
          Order type
          <select value={type} onChange={(e) => setType(e.target.value as OrderType)}>
            {ORDER_TYPES.map((t) => (
              <option key={t} value={t}>
                {t === 'STOP_LIMIT' ? 'Stop limit' : t.charAt(0) + t.slice(1).toLowerCase()}
              </option>
            ))}
          </select>
        </label>
        <label>
          Quantity
          <input
            id="ticket-quantity"
            inputMode="decimal"
            required
            value={quantity}
            onChange={(e) => setQuantity(e.target.value)}
          />
        </label>
        {needsLimit && (
          <label>
            Limit price
            <input
              inputMode="decimal"
              required
              value={limitPrice}
              onChange={(e) => setLimitPrice(e.target.value)}
            />
          </label>
        )}
        {needsStop && (
          <label>
            Stop price
            <input
              inputMode="decimal"
              required
              value={stopPrice}
              onChange={(e) => setStopPrice(e.target.value)}
            />
          </label>
        )}
        <label>
          Time in force
          <select value={tif} onChange={(e) => setTif(e.target.value as TimeInForce)}>
            {TIFS.map(([v, label]) => (
              <option key={v} value={v}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <p className="muted small">Last {num(lastPrice, digits)}</p>
        <div className="row">
          <button
            type="button"
            className="secondary"
            onClick={() => void onPreview()}
            disabled={previewState.loading}
          >
            Preview
          </button>
          <button
            type="submit"
            disabled={placing.loading || readOnly}
            title={readOnly ? 'Viewers cannot trade' : undefined}
          >
            Place order
          </button>
        </div>
      </form>
      <div aria-live="polite">
        {p && !result && (
          <div className={`preview ${p.accepted ? 'ok' : 'bad'}`} role="status">
            {p.accepted ? (
              <p>
                Would be accepted. Estimated price {num(p.estimatedPrice, digits)}, notional{' '}
                {num(p.estimatedNotional)}, fee {num(p.estimatedFee)}; buying power {num(p.buyingPower)} →{' '}
                {num(p.buyingPowerAfter)}.
              </p>
            ) : (
              <p>Would be refused: {describeRejectReason(p.rejectReason, p.message)}</p>
            )}
          </div>
        )}
        {result && (
          <div className={`preview ${result.ok ? 'ok' : 'bad'}`} role={result.ok ? 'status' : 'alert'}>
            <p>{result.text}</p>
            {result.retry && (
              <button type="button" onClick={() => void onPlace()} disabled={placing.loading}>
                Retry placing the same order
              </button>
            )}
          </div>
        )}
      </div>
    </section>
  );
}
