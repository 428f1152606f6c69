// Live data hooks over graphql-ws. Price ticks are buffered and published at most every FLUSH_MS,
// so 50 instruments ticking at 50/s cost a handful of renders per second, not one per tick; they
// bypass Apollo's cache (no-cache), which would otherwise normalize every tick.
import type { TypedDocumentNode } from '@apollo/client';
import { useEffect, useRef, useState } from 'react';
import { graphql } from './gql';
import { usePlatform } from './platform-context';

const PriceUpdatedSubscription = graphql(`
  subscription PriceUpdated($symbols: [ID!]!) {
    priceUpdated(symbols: $symbols) {
      symbol
      price
      bid
      ask
      timestamp
    }
  }
`);

/** How often buffered ticks are published to React. */
const FLUSH_MS = 200;
/** Prices kept per symbol for the sparkline. */
const HISTORY = 60;

/** The latest state of one symbol. */
export interface LivePrice {
  price: number;
  bid: string;
  ask: string;
  timestamp: string;
  /** Last prices, oldest first (at most {@link HISTORY}). */
  history: readonly number[];
}

type Prices = ReadonlyMap<string, LivePrice>;

/** Live prices of `symbols` (one subscription for all), re-rendering at most every FLUSH_MS. */
export function useLivePrices(symbols: readonly string[]): Prices {
  const { client } = usePlatform();
  const key = symbols.join(',');
  const [prices, setPrices] = useState<Prices>(() => new Map());
  useEffect(() => {
    if (!key) return undefined;
    const current = new Map<string, LivePrice>();
    let dirty = false;
    const sub = client
      .subscribe({
        query: PriceUpdatedSubscription,
        variables: { symbols: key.split(',') },
        fetchPolicy: 'no-cache',
      })
      .subscribe({
        next: ({ data }) => {
          const t = data?.priceUpdated;
          if (!t) return;
          const price = Number(t.price);
          const prev = current.get(t.symbol);
          const history = prev ? [...prev.history.slice(-(HISTORY - 1)), price] : [price];
          current.set(t.symbol, { price, bid: t.bid, ask: t.ask, timestamp: t.timestamp, history });
          dirty = true;
        },
      });
    const timer = setInterval(() => {
      if (!dirty) return;
      dirty = false;
      setPrices(new Map(current));
    }, FLUSH_MS);
    return () => {
      clearInterval(timer);
      sub.unsubscribe();
    };
  }, [client, key]);
  return prices;
}

/**
 * A list kept live by a subscription: `initial` from a query, then every event merged by id (new
 * ids first). Returns the merged list.
 */
export function useLiveList<T extends { id: string }, TData, TVars extends Record<string, unknown>>(
  initial: readonly T[] | undefined,
  subscription: TypedDocumentNode<TData, TVars>,
  variables: TVars,
  pick: (data: TData) => T | undefined,
  onEvent?: (item: T) => void,
): readonly T[] {
  const { client } = usePlatform();
  const [events, setEvents] = useState<ReadonlyMap<string, T>>(() => new Map());
  const pickRef = useRef(pick);
  const onEventRef = useRef(onEvent);
  pickRef.current = pick;
  onEventRef.current = onEvent;
  const varsKey = JSON.stringify(variables);
  useEffect(() => {
    const sub = client
      .subscribe({ query: subscription, variables: JSON.parse(varsKey) as TVars, fetchPolicy: 'no-cache' })
      .subscribe({
        next: ({ data }) => {
          const item = data ? pickRef.current(data) : undefined;
          if (!item) return;
          setEvents((m) => new Map(m).set(item.id, item));
          onEventRef.current?.(item);
        },
      });
    return () => sub.unsubscribe();
  }, [client, subscription, varsKey]);
  const merged = new Map<string, T>();
  for (const e of [...events.values()].reverse()) merged.set(e.id, e);
  for (const i of initial ?? []) if (!merged.has(i.id)) merged.set(i.id, i);
  return [...merged.values()];
}
