/**
 * graphql-ws on the subgraph's own `/graphql` (the same approach as market-data's): the gateway, or a
 * client, subscribes upstream directly. `connection_init` must carry `{ authorization: 'Bearer <access
 * token>' }`, verified like an HTTP request; without a valid token the socket closes with 4403, it
 * closes with 4401 when the token expires and with 4403 when its session is revoked.
 */
import type http from 'node:http';
import type { GraphQLSchema } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AccessTokenVerifier, AuthClaims } from '../../../lib/auth.js';
import { requestIdFrom } from '../../../lib/context.js';
import { AppError, createErrorFormatter } from '../../../lib/errors.js';
import type { Logger } from '../../../lib/logger.js';
import type { TradingContext, TradingServices } from './context.js';

interface Connection {
  claims: AuthClaims;
  requestId: string;
  expiry: NodeJS.Timeout | undefined;
}

/** The subgraph's graphql-ws endpoint; `dispose` closes every socket. */
export interface GraphqlWsServer {
  /** Closes the sockets of revoked sessions (4403). */
  closeSessions(sessionIds: readonly string[]): void;
  dispose(): Promise<void>;
}

/** Attaches graphql-ws to `server` on `path`. */
export function attachGraphqlWs(opts: {
  server: http.Server;
  path: string;
  schema: GraphQLSchema;
  verifier: AccessTokenVerifier;
  trading: TradingServices;
  logger: Logger;
  now?: () => number;
}): GraphqlWsServer {
  const now = opts.now ?? Date.now;
  const wss = new WebSocketServer({ server: opts.server, path: opts.path, maxPayload: 64 * 1024 });
  const connections = new Map<WebSocket, Connection>();
  const format = createErrorFormatter(opts.logger);

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
          return false;
        }
        if (!claims) return false;
        const socket = ctx.extra.socket;
        // setTimeout fires at once beyond 2^31 - 1 ms; access tokens live minutes, but clamp anyway.
        const ms = Math.min(2 ** 31 - 1, Math.max(0, claims.expiresAt * 1000 - now()));
        const expiry = setTimeout(() => socket.close(CloseCode.Unauthorized, 'Access token expired'), ms);
        expiry.unref();
        connections.set(socket, { claims, requestId: requestIdFrom(ctx.extra.request.headers), expiry });
        return true;
      },
      onClose: (ctx) => {
        const c = connections.get(ctx.extra.socket);
        if (c?.expiry) clearTimeout(c.expiry);
        connections.delete(ctx.extra.socket);
      },
      context: (ctx): TradingContext => {
        const c = connections.get(ctx.extra.socket);
        const headers = ctx.extra.request.headers;
        const ua = headers['user-agent'];
        return {
          requestId: c?.requestId ?? requestIdFrom(headers),
          auth: c?.claims ?? null,
          service: false,
          ip: ctx.extra.request.socket.remoteAddress,
          userAgent: typeof ua === 'string' ? ua.slice(0, 512) : undefined,
          logger: opts.logger.child({ requestId: c?.requestId, userId: c?.claims.userId }),
          trading: opts.trading,
        };
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
