import type http from 'node:http';
import {
  getOperationAST,
  GraphQLError,
  Kind,
  OperationTypeNode,
  print,
  type ExecutionArgs,
  type DocumentNode,
  type ExecutionResult,
  type FormattedExecutionResult,
  type GraphQLFormattedError,
} from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AccessTokenVerifier, AuthClaims } from '../../../lib/auth.js';
import type { Config } from '../../../lib/config.js';
import { requestIdFrom } from '../../../lib/context.js';
import {
  ErrorCode,
  AppError,
  createErrorFormatter,
  quotaExceeded,
  toGraphQLError,
  unavailableRetryAfter,
} from '../../../lib/errors.js';
import type { Logger } from '../../../lib/logger.js';
import { TRY_AGAIN_LATER } from '../../../lib/ws-server.js';
import { subscribeThroughFailover, type Redis } from '../../../lib/redis.js';
import { channels } from '../../../contracts/redis-names.js';
import { FederatedSubscriptionExecutor } from './subscription.executor.js';
import { gatewayClientIp } from '../gateway.context.js';
import type { OperationLimits } from '../operation-limits.js';
import { inTurn, SubscriptionDocuments, SubscriptionRateLimits } from './subscription.limits.js';
import type { SessionRecheck } from './subscription.liveness.js';
import type { SubscriptionMetrics } from './subscription.metrics.js';
import { PUBLIC_SUBSCRIPTION_FIELDS, type SubscriptionPlanner } from './subscription.planner.js';
import { SubscriptionQuota } from './subscription.quota.js';
import { WriteBatch } from '../../../lib/write-batch.js';
import { SocketSubscriber, type SocketSubscriberOptions } from './subscription.subscriber.js';
import type { NewDocuments } from '../first-sight.js';
import type { WindowSync } from '../window-sync.counter.js';

/** Close codes the gateway uses beyond graphql-ws' own. */
export const GatewayCloseCode = {
  /** The client read events too slowly and its queue overflowed even after conflation. */
  TooSlow: 4008,
  /** Too many `connection_init` from the client's IP; the reason says when to retry. */
  RateLimited: 4029,
} as const;

interface Connection {
  claims: AuthClaims;
  authorization: string;
  requestId: string;
  ip: string;
  /** Key of the socket's own subscribe rate limit. */
  socketKey: string;
  expiry: NodeJS.Timeout;
  recheck: NodeJS.Timeout | undefined;
  /** Live subscriptions by graphql-ws id: `pending` while the Redis caps answer, then `held`. */
  leases: Map<string, 'pending' | 'held'>;
  /** Ids of held subscriptions that also count against the account-subscription caps. */
  privateLeases: Set<string>;
  closed: boolean;
  /** Settles when the socket's previous subscribe has been handled (see {@link inTurn}). */
  turn: Promise<void>;
  /** Batches the frames this socket gets in one run of callbacks (see {@link WriteBatch}). */
  batch: WriteBatch;
}

/** The configuration the ws path reads. */
export type SubscriptionServerConfig = Pick<
  Config,
  | 'MAX_QUERY_BYTES'
  | 'MAX_QUERY_DEPTH'
  | 'MAX_QUERY_ALIASES'
  | 'SUBSCRIPTIONS_MAX_PER_SOCKET'
  | 'SUBSCRIPTIONS_MAX_PER_USER'
  | 'SUBSCRIPTIONS_MAX_PRIVATE_PER_USER'
  | 'SUBSCRIPTIONS_MAX_PER_IP'
  | 'SUBSCRIPTIONS_RATE_WINDOW_SECONDS'
  | 'SUBSCRIPTIONS_CONNECT_RATE_PER_IP'
  | 'SUBSCRIPTIONS_SUBSCRIBE_RATE_PER_SOCKET'
  | 'SUBSCRIPTIONS_SUBSCRIBE_RATE_PER_USER'
  | 'RATE_LIMIT_BURST_SECONDS'
  | 'RATE_LIMIT_BURST_FACTOR'
  | 'SUBSCRIPTIONS_UPSTREAM_SOCKETS'
  | 'SUBSCRIPTION_SESSION_RECHECK_SECONDS'
  | 'TRACING_SUBSCRIPTION_EVENT_RATIO'
>;

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
  /** The static limits of the current supergraph, shared with HTTP (rebuilt when it reloads). */
  limits: () => OperationLimits;
  verifier: Pick<AccessTokenVerifier, 'verifyHeader'>;
  subgraphUrl: (name: string) => string;
  logger: Logger;
  metrics: SubscriptionMetrics;
  /** A dedicated subscriber client, used for session revocations. */
  subscriber: Redis;
  redisPrefix: string;
  /** A command client (keyPrefix set) for the caps shared by every replica. */
  redis: Redis;
  /** The gateway's window counters (rate limits shared by every replica through Redis). */
  windows: WindowSync;
  /** New documents per caller, shared with HTTP (../first-sight.ts). */
  newDocuments: NewDocuments;
  config: SubscriptionServerConfig;
  /** Fresh liveness answers for the periodic re-check of each socket's session. */
  recheck: Pick<SessionRecheck, 'check'>;
  /** How long a replica's subscription counts are believed without its heartbeat. @default 30000 */
  quotaLeaseMs?: number;
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
 * instance, through Redis pub/sub, or at the latest at the next periodic re-check).
 *
 * Limits: `connection_init` per client IP (closes with 4029), `subscribe` per socket and per user,
 * the HTTP path's static document rules, and caps on live subscriptions per socket, per user and per
 * IP. A refused subscribe gets a graphql-ws `error` on its id; the socket and its other
 * subscriptions go on.
 */
/** True when every root field of the operation is public market data (shared, not per caller). */
function isPublicDocument(document: DocumentNode, operationName: string | undefined): boolean {
  const op = getOperationAST(document, operationName);
  if (!op) return false;
  return op.selectionSet.selections.every(
    (s) =>
      s.kind === Kind.FIELD &&
      (s.name.value === '__typename' || PUBLIC_SUBSCRIPTION_FIELDS.has(s.name.value)),
  );
}

export async function attachSubscriptionServer(opts: SubscriptionServerOptions): Promise<SubscriptionServer> {
  const { config, metrics } = opts;
  const wss = new WebSocketServer({ server: opts.server, path: opts.path, maxPayload: 64 * 1024 });
  const connections = new Map<WebSocket, Connection>();
  const format = createErrorFormatter(opts.logger);
  const executor = new FederatedSubscriptionExecutor({
    planner: opts.planner,
    subgraphUrl: opts.subgraphUrl,
    logger: opts.logger,
    metrics,
    formatError: format,
    upstreamSocketsPerScope: config.SUBSCRIPTIONS_UPSTREAM_SOCKETS,
    traceEventRatio: config.TRACING_SUBSCRIPTION_EVENT_RATIO,
    ...(opts.upstreamHeaders ? { upstreamHeaders: opts.upstreamHeaders } : {}),
  });
  const rates = new SubscriptionRateLimits(opts.windows, config);
  const documents = new SubscriptionDocuments();
  /** Errors of refused subscribes, sent as built by `onError` (see `refuse`). */
  const refusals = new WeakSet<GraphQLError>();
  // Printed once per document (documents are shared, see SubscriptionDocuments), not per subscribe.
  const printed = new WeakMap<DocumentNode, string>();
  const sourceOf = (document: DocumentNode): string => {
    let source = printed.get(document);
    if (source === undefined) {
      source = print(document);
      printed.set(document, source);
    }
    return source;
  };
  const quota = new SubscriptionQuota({
    redis: opts.redis,
    maxPerUser: config.SUBSCRIPTIONS_MAX_PER_USER,
    maxPerIp: config.SUBSCRIPTIONS_MAX_PER_IP,
    logger: opts.logger,
    ...(opts.quotaLeaseMs ? { leaseMs: opts.quotaLeaseMs } : {}),
  });
  quota.start();
  // Caller-dependent streams (orders, trades) are executed by the subgraph once per distinct document
  // for every event, so each one a user holds multiplies the work of that user's own activity; they get
  // a cap of their own, far below the general one (public market data is shared and not counted here).
  const privateQuota = new SubscriptionQuota({
    redis: opts.redis,
    maxPerUser: config.SUBSCRIPTIONS_MAX_PRIVATE_PER_USER,
    maxPerIp: config.SUBSCRIPTIONS_MAX_PER_IP,
    logger: opts.logger,
    kind: 'account_subscriptions',
    ...(opts.quotaLeaseMs ? { leaseMs: opts.quotaLeaseMs } : {}),
  });
  privateQuota.start();
  let sockets = 0;

  const revoke = (socket: WebSocket): void => {
    metrics.disconnected.inc({ reason: 'revoked' });
    socket.close(CloseCode.Forbidden, 'Session revoked');
  };
  const revokedChannel = channels.sessionRevoked(opts.redisPrefix);
  const onRevoked = (channel: string, message: string): void => {
    if (channel !== revokedChannel) return;
    const ids = new Set(message.split(','));
    for (const [socket, c] of connections) if (ids.has(c.claims.sessionId)) revoke(socket);
  };
  opts.subscriber.on('message', onRevoked);
  await subscribeThroughFailover(opts.subscriber, [revokedChannel]);

  // Every socket asks again on its own jittered timer (never later than the configured interval), so
  // the sessions service sees an even load; revocations on pub/sub still close sockets at once.
  const scheduleRecheck = (socket: WebSocket, c: Connection): void => {
    const intervalMs = config.SUBSCRIPTION_SESSION_RECHECK_SECONDS * 1000;
    c.recheck = setTimeout(() => void recheck(socket, c), intervalMs * (0.75 + 0.25 * Math.random()));
    c.recheck.unref();
  };
  const recheck = async (socket: WebSocket, c: Connection): Promise<void> => {
    const state = await opts.recheck.check(c.claims.sessionId);
    if (c.closed) return;
    if (state === 'ended') revoke(socket);
    else scheduleRecheck(socket, c);
  };

  const releaseLease = (c: Connection, id: string): void => {
    if (c.leases.get(id) !== 'held') return;
    c.leases.delete(id);
    void quota.release({ userId: c.claims.userId, ip: c.ip });
    if (c.privateLeases.delete(id)) void privateQuota.release({ userId: c.claims.userId, ip: c.ip });
  };
  /**
   * A refused subscribe: graphql-ws answers errors returned by `onSubscribe` with an `error` message on
   * the subscribe's id (graphql and graphql-ws share one graphql-js, under Node as under vitest:
   * subscription.server.test.ts), and `onError` sends them as built.
   */
  const refuse = (limit: string | undefined, errors: readonly GraphQLError[]): GraphQLError[] => {
    if (limit) metrics.refusals.inc({ limit });
    for (const e of errors) refusals.add(e);
    return [...errors];
  };

  const cleanup = useServer<Record<string, unknown> | undefined>(
    {
      schema: () => opts.planner().schema,
      onConnect: async (ctx) => {
        const socket = ctx.extra.socket;
        const ip = gatewayClientIp(ctx.extra.request);
        const requestId = requestIdFrom(ctx.extra.request.headers);
        // The TCP socket under the WebSocket, for batching the frames of one tick (WriteBatch).
        const tcp = ctx.extra.request.socket;
        // The upgrade request is read only here; graphql-ws would otherwise keep it (its headers, its
        // stream state) for the life of the socket, a few KB of every idle subscriber.
        (ctx.extra as { request: unknown }).request = undefined;
        // Counted before the token is checked, so a flood of forged tokens hits the limit too.
        let limited;
        try {
          limited = await rates.connectionInit(ip);
        } catch (err) {
          if (!(err instanceof AppError) || unavailableRetryAfter(err) === undefined) throw err;
          // The counters could not sync with Redis for a while: 1013 Try Again Later, as below.
          metrics.disconnected.inc({ reason: 'unavailable' });
          socket.close(TRY_AGAIN_LATER, err.message.slice(0, 123));
          return false;
        }
        if (limited) {
          metrics.refusals.inc({ limit: limited.limit });
          metrics.disconnected.inc({ reason: 'rate_limited' });
          const reason = `${limited.error.message}; retry after ${String(limited.error.details['retryAfter'])} s`;
          // graphql-ws then tries to close with 4403; a socket already closing keeps this code.
          socket.close(GatewayCloseCode.RateLimited, reason.slice(0, 123));
          return false;
        }
        const header = ctx.connectionParams?.['authorization'] ?? ctx.connectionParams?.['Authorization'];
        let claims: AuthClaims | null;
        try {
          claims = await opts.verifier.verifyHeader(typeof header === 'string' ? header : undefined);
        } catch (err) {
          if (!(err instanceof AppError)) opts.logger.warn({ err }, 'graphql-ws token check failed');
          if (err instanceof AppError && unavailableRetryAfter(err) !== undefined) {
            // Not checked (keys or session unavailable): 1013 Try Again Later, which clients retry,
            // instead of graphql-ws' 4403. A socket already closing keeps this code.
            metrics.disconnected.inc({ reason: 'unavailable' });
            socket.close(TRY_AGAIN_LATER, err.message.slice(0, 123));
            return false;
          }
          metrics.disconnected.inc({ reason: 'unauthenticated' });
          return false;
        }
        if (!claims || typeof header !== 'string') {
          metrics.disconnected.inc({ reason: 'unauthenticated' });
          return false;
        }
        // Closed while the token was checked: onClose has run, so nothing would clear the timers below.
        if (socket.readyState !== socket.OPEN) return false;
        const ms = Math.min(2 ** 31 - 1, Math.max(0, claims.expiresAt * 1000 - Date.now()));
        const expiry = setTimeout(() => {
          metrics.disconnected.inc({ reason: 'expired' });
          socket.close(CloseCode.Unauthorized, 'Access token expired');
        }, ms);
        expiry.unref();
        const connection: Connection = {
          claims,
          authorization: header,
          requestId,
          ip,
          socketKey: String(++sockets),
          expiry,
          recheck: undefined,
          leases: new Map(),
          privateLeases: new Set(),
          closed: false,
          turn: Promise.resolve(),
          batch: new WriteBatch(tcp, () => connection.leases.size > 1),
        };
        connections.set(socket, connection);
        metrics.sockets.inc();
        scheduleRecheck(socket, connection);
        return true;
      },
      onClose: (ctx) => {
        const c = connections.get(ctx.extra.socket);
        connections.delete(ctx.extra.socket);
        if (!c) return;
        metrics.sockets.dec();
        c.closed = true;
        clearTimeout(c.expiry);
        if (c.recheck) clearTimeout(c.recheck);
        rates.forgetSocket(c.socketKey);
        for (const id of [...c.leases.keys()]) releaseLease(c, id);
      },
      onSubscribe: async (ctx, id, payload): Promise<ExecutionArgs | GraphQLError[]> => {
        const socket = ctx.extra.socket;
        const connection = connections.get(socket);
        if (!connection) {
          const err = new GraphQLError('Connection not acknowledged', {
            extensions: { code: ErrorCode.Unauthenticated },
          });
          return refuse(undefined, [err]);
        }
        return inTurn(connection, async () => {
          let limited;
          try {
            limited = await rates.subscribe(connection.socketKey, connection.claims.userId);
          } catch (err) {
            // Counters too stale to decide (Redis unreachable): refused on its id, retryably.
            if (!(err instanceof AppError) || unavailableRetryAfter(err) === undefined) throw err;
            return refuse(undefined, [toGraphQLError(err)]);
          }
          if (limited) return refuse(limited.limit, [toGraphQLError(limited.error)]);
          const schema = opts.planner().validationSchema;
          if (!documents.knows(schema, payload.query, opts.limits())) {
            const refused = opts.newDocuments.take(`user:${connection.claims.userId}`);
            if (refused) return refuse('new_documents', [toGraphQLError(refused)]);
          }
          const checked = documents.check(schema, payload, config.MAX_QUERY_BYTES, opts.limits());
          if ('errors' in checked) return refuse(checked.limit, checked.errors);
          const operationName = payload.operationName ?? undefined;
          const args: ExecutionArgs = {
            schema,
            document: checked.document,
            operationName,
            variableValues: payload.variables,
            contextValue: { connection, socket, id } satisfies SubscriptionContext,
          };
          // Queries and mutations are refused by `execute` below; only subscriptions hold a slot.
          const operation = getOperationAST(checked.document, operationName)?.operation;
          if (operation !== OperationTypeNode.SUBSCRIPTION) return args;
          const max = config.SUBSCRIPTIONS_MAX_PER_SOCKET;
          if (connection.leases.size >= max) {
            const err = quotaExceeded(`Live subscriptions per socket exceed the limit of ${max}`, {
              limit: 'subscriptions_per_socket',
              max,
            });
            return refuse('subscriptions_per_socket', [toGraphQLError(err)]);
          }
          connection.leases.set(id, 'pending');
          const subject = { userId: connection.claims.userId, ip: connection.ip };
          const isPrivate = !isPublicDocument(checked.document, operationName);
          try {
            if (isPrivate) await privateQuota.acquire(subject);
            try {
              await quota.acquire(subject);
            } catch (err) {
              if (isPrivate) void privateQuota.release(subject);
              throw err;
            }
          } catch (err) {
            connection.leases.delete(id);
            if (err instanceof AppError) return refuse(String(err.details['limit']), [toGraphQLError(err)]);
            throw err;
          }
          connection.leases.set(id, 'held');
          if (isPrivate) connection.privateLeases.add(id);
          if (connection.closed) {
            // The socket closed while Redis answered; nothing will complete this subscription.
            releaseLease(connection, id);
            return refuse(undefined, [
              new GraphQLError('Socket closed', { extensions: { code: ErrorCode.BadUserInput } }),
            ]);
          }
          return args;
        });
      },
      onComplete: (ctx, id) => {
        const c = connections.get(ctx.extra.socket);
        if (c) releaseLease(c, id);
      },
      execute: (): ExecutionResult => ({
        errors: [
          new GraphQLError(
            'Send queries and mutations over HTTP (POST /graphql); this socket carries subscriptions',
            {
              extensions: { code: ErrorCode.BadUserInput },
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
          batch: connection.batch,
          ...opts.backpressure,
          metrics,
          onOverflow: () => {
            metrics.disconnected.inc({ reason: 'too_slow' });
            socket.close(GatewayCloseCode.TooSlow, 'Client too slow');
          },
        });
        try {
          executor.subscribe(
            {
              document: args.document,
              source: sourceOf(args.document),
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
                extensions: { code: ErrorCode.BadUserInput },
              }),
            ],
          };
        }
      },
      // A refusal's errors (see `refuse`) are sent as built; anything else is formatted here.
      onError: (_ctx, _id, _payload, errors) =>
        errors.map((e) => (refusals.has(e) ? e.toJSON() : format(e.toJSON(), e))),
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
      for (const c of connections.values()) {
        clearTimeout(c.expiry);
        if (c.recheck) clearTimeout(c.recheck);
      }
      await cleanup.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      quota.stop();
      privateQuota.stop();
    },
  };
}
