/**
 * graphql-ws on a subgraph's own `/graphql`: the gateway (or an internal service) subscribes upstream
 * directly, presenting the ingress credential on the upgrade (see `ingress`). `connection_init` must carry `{ authorization: 'Bearer <access token>' }`, verified like an HTTP
 * request; without a valid token the socket closes with 4403 Forbidden (1013 when the token could not
 * be checked now), and it closes with 4401 when the token expires or 4403 when its session is revoked.
 */
import type http from 'node:http';
import type { GraphQLSchema } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { Gauge, type Registry } from 'prom-client';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AuthClaims } from './auth.js';
import { requestIdFrom, userAgentFrom, type RequestContext } from './context.js';
import { AppError, createErrorFormatter, unavailableRetryAfter } from './errors.js';
import { INGRESS_REFUSAL_BODY } from './ingress.js';
import type { Logger } from './logger.js';
import { subscribeThroughFailover, type Redis } from './redis.js';
import { channels } from '../contracts/redis-names.js';
import type { HeaderVerifier } from './token-cache.js';
import { WriteBatch } from './write-batch.js';

/** WebSocket close code 1013, Try Again Later (RFC 6455 registry): graphql-ws clients retry it. */
export const TRY_AGAIN_LATER = 1013;

interface Connection {
  claims: AuthClaims;
  requestId: string;
  expiry: NodeJS.Timeout | undefined;
}

/** A subgraph's graphql-ws endpoint; `dispose` closes every socket. */
export interface GraphqlWsServer {
  /** Closes the sockets of revoked sessions (4403). */
  closeSessions(sessionIds: readonly string[]): void;
  dispose(): Promise<void>;
}

/** Options of {@link attachGraphqlWs}. */
export interface GraphqlWsOptions<TContext extends RequestContext> {
  server: http.Server;
  path: string;
  schema: GraphQLSchema;
  verifier: HeaderVerifier;
  logger: Logger;
  /** Adds the subgraph's own fields (its services) to the request context of an operation. */
  context: (base: RequestContext) => TContext;
  /**
   * Clock, epoch milliseconds (token expiry).
   * @default Date.now
   */
  now?: () => number;
  /**
   * Who may open a socket, decided on the HTTP upgrade (lib/ingress): a refused upgrade gets 403 with a
   * FORBIDDEN GraphQL error body and never becomes a WebSocket.
   * @default everyone
   */
  ingress?: (req: http.IncomingMessage) => boolean;
  /** Registers `graphql_ws_connections` (acknowledged sockets open) here. */
  registry?: Registry;
}

/** Attaches graphql-ws to `server` on `path`; see the module comment for the auth rules. */
export function attachGraphqlWs<TContext extends RequestContext>(
  opts: GraphqlWsOptions<TContext>,
): GraphqlWsServer {
  const now = opts.now ?? Date.now;
  const ingress = opts.ingress;
  const wss = new WebSocketServer({
    server: opts.server,
    path: opts.path,
    maxPayload: 64 * 1024,
    ...(ingress
      ? {
          verifyClient: (
            info: { req: http.IncomingMessage },
            done: (ok: boolean, code?: number, message?: string, headers?: http.OutgoingHttpHeaders) => void,
          ) => {
            if (ingress(info.req)) done(true);
            else
              done(false, 403, INGRESS_REFUSAL_BODY, { 'content-type': 'application/json; charset=utf-8' });
          },
        }
      : {}),
  });
  const connections = new Map<WebSocket, Connection>();
  const format = createErrorFormatter(opts.logger);
  const open = opts.registry
    ? new Gauge({
        name: 'graphql_ws_connections',
        help: 'graphql-ws connections open (acknowledged)',
        registers: [opts.registry],
      })
    : undefined;

  // Registered before graphql-ws' own listener, so every frame it sends goes through the batch: one
  // tick of the feed answers each of the (up to a hundred) upstream subscriptions a gateway socket
  // carries, and those frames leave in one system call instead of one each (lib/write-batch.ts).
  wss.on('connection', (socket, request) => batchSends(socket, new WriteBatch(request.socket)));

  const cleanup = useServer<Record<string, unknown> | undefined>(
    {
      schema: opts.schema,
      onConnect: async (ctx) => {
        const header = ctx.connectionParams?.['authorization'];
        let claims: AuthClaims | null;
        try {
          claims = await opts.verifier.verifyHeader(typeof header === 'string' ? header : undefined);
        } catch (err) {
          if (!(err instanceof AppError)) opts.logger.warn({ err }, 'graphql-ws token check failed');
          // Not checked (keys or session unavailable): 1013 Try Again Later, retried by clients, not 4403.
          if (err instanceof AppError && unavailableRetryAfter(err) !== undefined) {
            ctx.extra.socket.close(TRY_AGAIN_LATER, err.message.slice(0, 123));
          }
          return false;
        }
        if (!claims) return false;
        const socket = ctx.extra.socket;
        // setTimeout fires at once beyond 2^31 - 1 ms; access tokens live minutes, but clamp anyway.
        const ms = Math.min(2 ** 31 - 1, Math.max(0, claims.expiresAt * 1000 - now()));
        const expiry = setTimeout(() => socket.close(CloseCode.Unauthorized, 'Access token expired'), ms);
        expiry.unref();
        connections.set(socket, { claims, requestId: requestIdFrom(ctx.extra.request.headers), expiry });
        open?.inc();
        return true;
      },
      onClose: (ctx) => {
        const c = connections.get(ctx.extra.socket);
        if (c) open?.dec();
        if (c?.expiry) clearTimeout(c.expiry);
        connections.delete(ctx.extra.socket);
      },
      context: (ctx): TContext => {
        const c = connections.get(ctx.extra.socket);
        const headers = ctx.extra.request.headers;
        return opts.context({
          requestId: c?.requestId ?? requestIdFrom(headers),
          auth: c?.claims ?? null,
          service: false,
          ip: ctx.extra.request.socket.remoteAddress,
          userAgent: userAgentFrom(headers),
          logger: opts.logger.child({ requestId: c?.requestId, userId: c?.claims.userId }),
        });
      },
      // Same error model as HTTP: domain errors keep their code, anything else is masked.
      onError: (_ctx, _id, _payload, errors) => errors.map((e) => format(e.toJSON(), e)),
      onNext: (_ctx, _id, _payload, _args, result) => {
        if (!result.errors) return;
        return {
          data: result.data ?? null,
          errors: result.errors.map((e) => format(e.toJSON(), e)),
        };
      },
    },
    wss,
  );

  return {
    closeSessions(sessionIds) {
      const ids = new Set(sessionIds);
      for (const [socket, c] of connections) {
        if (ids.has(c.claims.sessionId)) socket.close(CloseCode.Forbidden, 'Session revoked');
      }
    },
    async dispose() {
      for (const c of connections.values()) if (c.expiry) clearTimeout(c.expiry);
      await cleanup.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/** Routes a socket's `send` through `batch`, so the frames of one run of callbacks are written together. */
function batchSends(socket: WebSocket, batch: WriteBatch): void {
  const send = socket.send.bind(socket) as (...args: unknown[]) => void;
  socket.send = ((...args: unknown[]): void => {
    batch.hold();
    send(...args);
  }) as WebSocket['send'];
}

/**
 * Closes the sockets of sessions revoked on Redis (`channels.sessionRevoked`).
 * @param subscribe whether to SUBSCRIBE the channel here; pass false when the subscriber already
 *   listens to it (lib's CachedSessionLiveness does)
 */
export async function closeRevokedSessions(
  ws: GraphqlWsServer,
  subscriber: Redis,
  redisPrefix: string,
  subscribe: boolean,
): Promise<void> {
  const revoked = channels.sessionRevoked(redisPrefix);
  subscriber.on('message', (channel: string, message: string) => {
    if (channel === revoked) ws.closeSessions(message.split(','));
  });
  if (subscribe) await subscribeThroughFailover(subscriber, [revoked]);
}
