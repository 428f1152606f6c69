// The trading desk: market watch, order ticket, orders and trades, positions and account.
import { useCallback, useMemo, useState } from 'react';
import { useDesk } from '../desk-context';
import { useLivePrices } from '../live';
import { Blotter } from './blotter';
import { MarketWatch } from './market-watch';
import { OrderTicket } from './order-ticket';
import { Positions } from './positions';

/** The main screen. */
export function DeskScreen(): React.JSX.Element {
  const { instruments } = useDesk();
  const symbols = useMemo(() => instruments.map((i) => i.symbol), [instruments]);
  const prices = useLivePrices(symbols);
  const [symbol, setSymbol] = useState(symbols[0] ?? '');
  const [executions, setExecutions] = useState(0);
  const onTrade = useCallback((s: string) => {
    setSymbol(s);
    // Keyboard flow: from a row's Trade button straight to the ticket's quantity.
    const quantity = document.getElementById('ticket-quantity');
    quantity?.scrollIntoView({ block: 'nearest' });
    quantity?.focus();
  }, []);
  const onExecution = useCallback(() => setExecutions((n) => n + 1), []);
  return (
    <div className="desk">
      <div className="desk-watch">
        <MarketWatch instruments={instruments} prices={prices} onTrade={onTrade} />
      </div>
      <div className="desk-side">
        <OrderTicket symbol={symbol} onSymbol={setSymbol} lastPrice={prices.get(symbol)?.price} />
        <Positions refreshKey={executions} />
      </div>
      <div className="desk-bottom">
        <Blotter onTrade={onExecution} />
      </div>
    </div>
  );
}
