import type http from 'node:http';
import {
  GraphQLError,
  print,
  type ExecutionResult,
  type FormattedExecutionResult,
  type GraphQLFormattedError,
} from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AccessTokenVerifier, AuthClaims } from '../../../lib/auth.js';
import { requestIdFrom } from '../../../lib/context.js';
import { AppError, createErrorFormatter } from '../../../lib/errors.js';
import type { Logger } from '../../../lib/logger.js';
import { channels, type Redis } from '../../../lib/redis.js';
import { FederatedSubscriptionExecutor } from './subscription.executor.js';
import type { SubscriptionMetrics } from './subscription.metrics.js';
import type { SubscriptionPlanner } from './subscription.planner.js';
import { SocketSubscriber, type SocketSubscriberOptions } from './subscription.subscriber.js';

/** Close codes the gateway uses beyond graphql-ws' own. */
export const GatewayCloseCode = {
  /** The client read events too slowly and its queue overflowed even after conflation. */
  TooSlow: 4008,
} as const;

interface Connection {
  claims: AuthClaims;
  authorization: string;
  requestId: string;
  expiry: NodeJS.Timeout;
}

interface SubscriptionContext {
  connection: Connection;
  socket: WebSocket;
  /** The graphql-ws message id of the subscription (the prefix of its `next` frames). */
  id: string;
}

export interface SubscriptionServerOptions {
  server: http.Server;
  path: string;
  planner: () => SubscriptionPlanner;
  verifier: Pick<AccessTokenVerifier, 'verifyHeader'>;
  subgraphUrl: (name: string) => string;
  logger: Logger;
  metrics: SubscriptionMetrics;
  /** A dedicated subscriber client, used for session revocations. */
  subscriber: Redis;
  redisPrefix: string;
  /** Headers of every upstream subgraph connection and fetch (the ingress credential). */
  upstreamHeaders?: Readonly<Record<string, string>>;
  /** Backpressure of each client subscription; see {@link SocketSubscriber}. */
  backpressure?: Pick<SocketSubscriberOptions, 'highWaterBytes' | 'maxPending' | 'maxBehindMs'>;
}

/** The gateway's graphql-ws endpoint; see {@link attachSubscriptionServer}. */
export interface SubscriptionServer {
  executor: FederatedSubscriptionExecutor;
  dispose(): Promise<void>;
}

/**
 * Serves graphql-ws on the gateway's `/graphql` (same port and path as HTTP). The access token comes in
 * `connection_init` (`{ authorization: "Bearer ..." }`) and is verified like an HTTP request; the socket
 * closes with 4401 when the token expires and 4403 when its session is revoked (on any gateway
 * instance, through Redis pub/sub).
 */
export async function attachSubscriptionServer(opts: SubscriptionServerOptions): Promise<SubscriptionServer> {
  const wss = new WebSocketServer({ server: opts.server, path: opts.path, maxPayload: 64 * 1024 });
  const connections = new Map<WebSocket, Connection>();
  const format = createErrorFormatter(opts.logger);
  const executor = new FederatedSubscriptionExecutor({
    planner: opts.planner,
    subgraphUrl: opts.subgraphUrl,
    logger: opts.logger,
    metrics: opts.metrics,
    formatError: format,
    ...(opts.upstreamHeaders ? { upstreamHeaders: opts.upstreamHeaders } : {}),
  });

  const revokedChannel = channels.sessionRevoked(opts.redisPrefix);
  const onRevoked = (channel: string, message: string): void => {
    if (channel !== revokedChannel) return;
    const ids = new Set(message.split(','));
    for (const [socket, c] of connections) {
      if (ids.has(c.claims.sessionId)) {
        opts.metrics.disconnected.inc({ reason: 'revoked' });
        socket.close(CloseCode.Forbidden, 'Session revoked');
      }
    }
  };
  opts.subscriber.on('message', onRevoked);
  await opts.subscriber.subscribe(revokedChannel);

  const cleanup = useServer<Record<string, unknown> | undefined>(
    {
      schema: () => opts.planner().schema,
      onConnect: async (ctx) => {
        const header = ctx.connectionParams?.['authorization'] ?? ctx.connectionParams?.['Authorization'];
        let claims: AuthClaims | null;
        try {
          claims = await opts.verifier.verifyHeader(typeof header === 'string' ? header : undefined);
        } catch (err) {
          if (!(err instanceof AppError)) opts.logger.warn({ err }, 'graphql-ws token check failed');
          opts.metrics.disconnected.inc({ reason: 'unauthenticated' });
          return false;
        }
        if (!claims || typeof header !== 'string') {
          opts.metrics.disconnected.inc({ reason: 'unauthenticated' });
          return false;
        }
        const socket = ctx.extra.socket;
        const ms = Math.min(2 ** 31 - 1, Math.max(0, claims.expiresAt * 1000 - Date.now()));
        const expiry = setTimeout(() => {
          opts.metrics.disconnected.inc({ reason: 'expired' });
          socket.close(CloseCode.Unauthorized, 'Access token expired');
        }, ms);
        expiry.unref();
        connections.set(socket, {
          claims,
          authorization: header,
          requestId: requestIdFrom(ctx.extra.request.headers),
          expiry,
        });
        return true;
      },
      onClose: (ctx) => {
        const c = connections.get(ctx.extra.socket);
        if (c) clearTimeout(c.expiry);
        connections.delete(ctx.extra.socket);
      },
      context: (ctx, id): SubscriptionContext => {
        const connection = connections.get(ctx.extra.socket);
        if (!connection) throw new Error('connection not acknowledged');
        return { connection, socket: ctx.extra.socket, id };
      },
      execute: (): ExecutionResult => ({
        errors: [
          new GraphQLError(
            'Send queries and mutations over HTTP (POST /graphql); this socket carries subscriptions',
            {
              extensions: { code: 'BAD_USER_INPUT' },
            },
          ),
        ],
      }),
      subscribe: (args) => {
        const { connection, socket, id } = args.contextValue as SubscriptionContext;
        const claims = connection.claims;
        // Events bypass graphql-ws' per-client serialization: the stream serializes each one once and
        // this subscriber writes the frame (see SocketSubscriber); graphql-ws still owns the protocol.
        const subscriber = new SocketSubscriber(socket, id, {
          ...opts.backpressure,
          metrics: opts.metrics,
          onOverflow: () => {
            opts.metrics.disconnected.inc({ reason: 'too_slow' });
            socket.close(GatewayCloseCode.TooSlow, 'Client too slow');
          },
        });
        try {
          executor.subscribe(
            {
              document: args.document,
              source: print(args.document),
              operationName: args.operationName ?? undefined,
              variables: args.variableValues ?? {},
              authorization: connection.authorization,
              expiresAt: claims.expiresAt,
              scope: `${claims.tenantId}:${claims.userId}:${claims.role}`,
              requestId: connection.requestId,
            },
            subscriber,
          );
          return subscriber;
        } catch (err) {
          opts.logger.warn({ err }, 'subscription planning failed');
          return {
            errors: [
              new GraphQLError('Subscription could not be planned', {
                extensions: { code: 'BAD_USER_INPUT' },
              }),
            ],
          };
        }
      },
      onNext: (_ctx, _id, _payload, _args, result): FormattedExecutionResult | undefined => {
        if (!result.errors) return undefined;
        const errors = (result.errors as readonly (GraphQLError | GraphQLFormattedError)[]).map((e) =>
          format(e instanceof GraphQLError ? e.toJSON() : e, e),
        );
        return { ...(result.data !== undefined ? { data: result.data } : {}), errors };
      },
    },
    wss,
  );

  return {
    executor,
    async dispose() {
      opts.subscriber.off('message', onRevoked);
      await opts.subscriber.unsubscribe(revokedChannel).catch(() => undefined);
      executor.stop();
      for (const c of connections.values()) clearTimeout(c.expiry);
      await cleanup.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
