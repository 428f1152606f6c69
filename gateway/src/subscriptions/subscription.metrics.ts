import { Counter, Gauge, type Registry } from 'prom-client';

/** Subscription metrics of the gateway. */
export interface SubscriptionMetrics {
  sockets: Gauge;
  active: Gauge;
  upstreams: Gauge;
  upstreamSockets: Gauge;
  eventsIn: Counter;
  eventsOut: Counter;
  conflated: Counter;
  dropped: Counter;
  disconnected: Counter<'reason'>;
  refusals: Counter<'limit'>;
}

/** Registers the subscription metrics on the gateway's registry. */
export function createSubscriptionMetrics(registry: Registry): SubscriptionMetrics {
  const registers = [registry];
  return {
    sockets: new Gauge({
      name: 'gateway_subscription_sockets',
      help: 'Client graphql-ws sockets open and acknowledged (token verified)',
      registers,
    }),
    active: new Gauge({ name: 'gateway_subscriptions_active', help: 'Client subscriptions open', registers }),
    upstreams: new Gauge({
      name: 'gateway_subscription_upstreams',
      help: 'Upstream subscription streams open (shared by identical subscriptions)',
      registers,
    }),
    upstreamSockets: new Gauge({
      name: 'gateway_subscription_upstream_sockets',
      help: 'Upstream graphql-ws sockets open to subgraphs (every upstream stream is multiplexed over them)',
      registers,
    }),
    eventsIn: new Counter({
      name: 'gateway_subscription_events_in_total',
      help: 'Events received from upstream subscriptions',
      registers,
    }),
    eventsOut: new Counter({
      name: 'gateway_subscription_events_out_total',
      help: 'Events queued to clients',
      registers,
    }),
    conflated: new Counter({
      name: 'gateway_subscription_events_conflated_total',
      help: 'Events replaced by a newer one for the same key before a slow client read them',
      registers,
    }),
    dropped: new Counter({
      name: 'gateway_subscription_events_dropped_total',
      help: 'Events dropped because a client queue overflowed',
      registers,
    }),
    disconnected: new Counter({
      name: 'gateway_subscription_disconnects_total',
      help: 'Sockets closed by the gateway, by reason',
      labelNames: ['reason'],
      registers,
    }),
    refusals: new Counter({
      name: 'gateway_subscription_refusals_total',
      help: 'Sockets and subscriptions refused by a subscription limit, by limit',
      labelNames: ['limit'],
      registers,
    }),
  };
}
