// The GraphQL client: HTTP to /graphql for queries and mutations, graphql-ws on the same path for
// subscriptions, both carrying the session's access token (refreshed ahead of expiry). The socket
// state feeds the connection indicator; a tenant switch or sign-out restarts the socket so the new
// token (or none) is what the gateway verifies.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, Observable } from '@apollo/client';
import { SetContextLink } from '@apollo/client/link/context';
import { ErrorLink } from '@apollo/client/link/error';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { Kind, OperationTypeNode } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { bootMark, bootRecording } from './boot-timing';
import { errorCode } from './errors';
import { graphql } from './gql';
import { SessionStore, type SessionTokens } from './session';

/** The socket's state as the connection indicator shows it. */
export interface ConnectionState {
  status: 'idle' | 'connecting' | 'live' | 'reconnecting';
  /** Reconnections since the page loaded. */
  reconnects: number;
}

/** A tiny observable value (for useSyncExternalStore). */
export class Observed<T> {
  private readonly listeners = new Set<() => void>();
  constructor(private value: T) {}
  get = (): T => this.value;
  set(value: T): void {
    this.value = value;
    for (const l of this.listeners) l();
  }
  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };
}

graphql(`
  fragment AuthFields on AuthPayload {
    accessToken
    refreshToken
    expiresAt
    tenant {
      id
    }
  }
`);

const RefreshTokenMutation = graphql(`
  mutation RefreshToken($refreshToken: String!) {
    refreshToken(refreshToken: $refreshToken) {
      ...AuthFields
    }
  }
`);

/** Tokens of an AuthPayload as the session keeps them. */
export function tokensOf(p: {
  accessToken: string;
  refreshToken: string;
  expiresAt: string;
  tenant: { id: string };
}): SessionTokens {
  return {
    accessToken: p.accessToken,
    refreshToken: p.refreshToken,
    expiresAt: p.expiresAt,
    tenantId: p.tenant.id,
  };
}

/** Everything the app shares: the client, the session and the socket state. */
export interface Platform {
  client: ApolloClient;
  session: SessionStore;
  connection: Observed<ConnectionState>;
  ws: Client;
}

/** Builds the client for the gateway at this page's origin. */
export function createPlatform(origin: string = location.origin): Platform {
  const session = new SessionStore();
  const connection = new Observed<ConnectionState>({ status: 'idle', reconnects: 0 });
  let everConnected = false;
  const ws = createClient({
    url: `${origin.replace(/^http/, 'ws')}/graphql`,
    connectionParams: async () => {
      const token = await session.accessToken();
      return token ? { authorization: `Bearer ${token}` } : {};
    },
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: () => true,
    keepAlive: 15_000,
    on: {
      connecting: () =>
        connection.set({ ...connection.get(), status: everConnected ? 'reconnecting' : 'connecting' }),
      connected: () => {
        const { reconnects } = connection.get();
        connection.set({ status: 'live', reconnects: everConnected ? reconnects + 1 : reconnects });
        everConnected = true;
      },
      closed: () => {
        if (connection.get().status === 'live')
          connection.set({ ...connection.get(), status: 'reconnecting' });
      },
    },
  });

  const auth = new SetContextLink(async (prev) => {
    if (prev['anonymous'] === true) return {};
    const token = await session.accessToken();
    return token ? { headers: { ...(prev.headers as object), authorization: `Bearer ${token}` } } : {};
  });
  // An access token refused (expired early, or the session revoked): rotate once and retry; when the
  // rotation fails too, the session is cleared and the desk shows the sign-in page.
  const retryUnauthenticated = new ErrorLink(({ error, operation, forward }) => {
    const ctx = operation.getContext();
    if (ctx['anonymous'] === true || ctx['retried'] === true || errorCode(error) !== 'UNAUTHENTICATED')
      return;
    operation.setContext({ retried: true });
    return new Observable<ApolloLink.Result>((subscriber) => {
      let inner: { unsubscribe(): void } | undefined;
      let closed = false;
      void session.refresh().then((token) => {
        if (closed) return;
        if (token) inner = forward(operation).subscribe(subscriber);
        else subscriber.complete();
      });
      return () => {
        closed = true;
        inner?.unsubscribe();
      };
    });
  });
  // Start-up marks of each operation, auth wait included (boot-timing); a pass-through afterwards.
  const timing = new ApolloLink((operation, forward) => {
    if (!bootRecording()) return forward(operation);
    const step = `query:${operation.operationName ?? 'anonymous'}`;
    bootMark(`${step}:start`);
    return new Observable<ApolloLink.Result>((subscriber) => {
      const inner = forward(operation).subscribe({
        next: (result) => {
          bootMark(`${step}:end`);
          subscriber.next(result);
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
      return () => inner.unsubscribe();
    });
  });
  const http = new HttpLink({ uri: `${origin}/graphql` });
  const link = ApolloLink.split(
    ({ query }) => {
      const def = getMainDefinition(query);
      return def.kind === Kind.OPERATION_DEFINITION && def.operation === OperationTypeNode.SUBSCRIPTION;
    },
    new GraphQLWsLink(ws),
    ApolloLink.from([timing, retryUnauthenticated, auth, http]),
  );
  const client = new ApolloClient({
    link,
    cache: new InMemoryCache({
      typePolicies: {
        Instrument: { keyFields: ['symbol'] },
        Position: { keyFields: false },
        Quote: { keyFields: false },
      },
    }),
    defaultOptions: { watchQuery: { fetchPolicy: 'cache-and-network' } },
  });

  session.setRefresher(async (refreshToken) => {
    const { data } = await client.mutate({
      mutation: RefreshTokenMutation,
      variables: { refreshToken },
      context: { anonymous: true },
    });
    if (!data) throw new Error('no refresh payload');
    return tokensOf(data.refreshToken);
  });
  // A new tenant or a sign-out: the socket reconnects under the new identity, the cache is dropped.
  let scope = session.current?.tenantId;
  session.subscribe(() => {
    const next = session.current?.tenantId;
    if (next === scope) return;
    scope = next;
    ws.terminate();
    void client.clearStore();
  });
  return { client, session, connection, ws };
}
