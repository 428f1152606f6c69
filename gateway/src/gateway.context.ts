/**
 * The per-request context of the gateway, built before any parsing: the request id, the client IP,
 * the verified token (or none), then the rate limits. Refusals here are transport-level, so they
 * answer with an HTTP status (401 with `WWW-Authenticate`, 429 with `Retry-After`) and a GraphQL
 * error body carrying `extensions.code`, as GraphQL-over-HTTP allows for requests refused before
 * execution.
 */
import type { IncomingMessage } from 'node:http';
import { HeaderMap } from '@apollo/server';
import type { GatewayExecutionResult } from '@apollo/server-gateway-interface';
import type { Request, Response } from 'express';
import { GraphQLError } from 'graphql';
import type { AuthClaims } from '../../lib/auth.js';
import { requestIdFrom, userAgentFrom } from '../../lib/context.js';
import { AppError, unavailableRetryAfter, withoutStack } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import type { FirstSight, NewDocuments } from './first-sight.js';
import { authFailureReason, type GatewayMetrics } from './gateway.metrics.js';
import { rateLimitError, type RateLimiter } from './rate-limit.service.js';
import type { TenantLimits, TenantWindowLimits } from './tenant-limits.js';
import type { HeaderVerifier } from '../../lib/token-cache.js';

/** Mutable per-request metric labels, filled in as the request is understood. */
export interface RequestLabels {
  operationType: string;
}

/** What the gateway's plugins and data sources see for one request. */
export interface GatewayContext {
  requestId: string;
  clientIp: string;
  /** The client's `user-agent` (clipped), forwarded so sessions record it. */
  userAgent: string | undefined;
  /** The `Authorization` header exactly as received, present only when it verified. */
  authorization: string | undefined;
  auth: AuthClaims | null;
  /** The limits of the caller's tenant (its own or the defaults); undefined without a tenant. */
  tenantLimits: TenantWindowLimits | undefined;
  logger: Logger;
  labels: RequestLabels;
  /**
   * Set when the lean pipeline (lean-pipeline.ts) hands the request to Apollo Server after doing part
   * of it: the plugins and the executor take what it decided instead of doing it twice.
   */
  leanDone?: LeanDone | undefined;
}

/** What the lean pipeline did before handing a request to Apollo Server. */
export interface LeanDone {
  /** The admission verdict: admitted, or the refusal to answer. */
  admission: 'admitted' | { refused: unknown };
  /** The operation's execution, when it ran: its result, or what it threw. */
  execution?: { result: GatewayExecutionResult } | { thrown: unknown };
}

/** `res.locals` key holding the {@link RequestLabels} of a request. */
export const LABELS_KEY = 'gatewayLabels';

/** `res.locals` key holding the request id chosen when the request arrived. */
export const REQUEST_ID_KEY = 'requestId';

/**
 * Wraps a domain error for Apollo with the HTTP status and headers of a transport-level refusal, built
 * without capturing frames: a refusal is an answer (lib/errors `withoutStack`).
 */
export function refusal(err: AppError, status: number, headers: [string, string][]): GraphQLError {
  return withoutStack(
    () =>
      new GraphQLError(err.message, {
        originalError: err,
        extensions: { code: err.code, ...err.details, http: { status, headers: new HeaderMap(headers) } },
      }),
  );
}

/**
 * A check that could not be made now (lib/errors `unavailable`: Redis or the keys unreachable) as a
 * retryable transport-level refusal: 503, `Retry-After`, never cached. Undefined for any other error.
 */
export function unavailableRefusal(err: unknown): GraphQLError | undefined {
  const wait = unavailableRetryAfter(err);
  if (wait === undefined || !(err instanceof AppError)) return undefined;
  return refusal(err, 503, [
    ['retry-after', String(wait)],
    ['cache-control', 'no-store'],
  ]);
}

/**
 * The client IP of a gateway request or WebSocket upgrade (lib/http gives both Express's request
 * prototype): the `X-Forwarded-For` address when the peer is one of TRUSTED_PROXIES (Express's
 * `trust proxy`), the socket peer otherwise.
 */
export function gatewayClientIp(req: IncomingMessage): string {
  return (req as Request).ip ?? req.socket.remoteAddress ?? 'unknown';
}

/** Builds the Apollo `context` function of the gateway. */
export function createContextBuilder(deps: {
  verifier: HeaderVerifier;
  limiter: RateLimiter;
  tenantLimits: TenantLimits;
  metrics: GatewayMetrics;
  logger: Logger;
  /** New documents per caller (gateway/src/first-sight.ts); counted once the caller is known. */
  newDocuments?: { firstSight: Pick<FirstSight, 'firstOfItsDocument'>; budget: NewDocuments };
}): (args: { req: Request; res: Response }) => Promise<GatewayContext> {
  return async ({ req, res }) => {
    const given = res.locals[REQUEST_ID_KEY] as string | undefined;
    const requestId = given ?? requestIdFrom(req.headers);
    if (!given) res.setHeader('x-request-id', requestId);
    const clientIp = gatewayClientIp(req);
    const labels = (res.locals[LABELS_KEY] as RequestLabels | undefined) ?? { operationType: 'unknown' };

    const header = req.headers.authorization;
    let auth: AuthClaims | null = null;
    let authError: AppError | undefined;
    try {
      auth = await deps.verifier.verifyHeader(header);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      authError = err;
    }

    // Known at once after a tenant's first request (tenant-limits.ts).
    let limits: TenantWindowLimits | undefined;
    if (auth?.tenantId) {
      const known = deps.tenantLimits.of(auth.tenantId);
      limits = known instanceof Promise ? await known : known;
    }
    // Counted even when the token is bad, so a flood of forged tokens hits the IP limit.
    let verdict;
    try {
      verdict = deps.limiter.check({ ip: clientIp, userId: auth?.userId, tenantId: auth?.tenantId, limits });
    } catch (err) {
      // The counters could not sync with Redis for a while (a failover): refused, but retryable.
      const unavailable = unavailableRefusal(err);
      if (!unavailable) throw err;
      deps.logger.warn({ requestId, err }, 'rate limits not checked: Redis is unavailable');
      throw unavailable;
    }
    if (!verdict.allowed) {
      deps.metrics.rateLimited.inc({ scope: verdict.scope });
      deps.logger.info({ requestId, scope: verdict.scope, clientIp }, 'rate limited');
      throw refusal(rateLimitError(verdict), 429, [['retry-after', String(verdict.retryAfterSeconds)]]);
    }
    const authUnavailable = unavailableRefusal(authError);
    if (authUnavailable) {
      // The keys or the session could not be checked now (lib/auth): refused, but retryable.
      deps.metrics.authFailures.inc({ reason: 'unavailable' });
      deps.logger.warn({ requestId, err: authError }, 'token not checked: a dependency is unavailable');
      throw authUnavailable;
    }
    if (authError) {
      const reason = authFailureReason(authError.message);
      deps.metrics.authFailures.inc({ reason });
      deps.logger.info({ requestId, reason }, 'token refused');
      throw refusal(authError, 401, [
        ['www-authenticate', `Bearer error="invalid_token"`],
        ['cache-control', 'no-store'],
      ]);
    }
    // A document this process has not validated: counted against the verified user (or the IP).
    if (deps.newDocuments?.firstSight.firstOfItsDocument(req)) {
      const refused = deps.newDocuments.budget.take(auth ? `user:${auth.userId}` : `ip:${clientIp}`);
      if (refused) {
        deps.metrics.rateLimited.inc({ scope: 'new_documents' });
        deps.logger.info({ requestId, scope: 'new_documents', clientIp }, 'rate limited');
        throw refusal(refused, 429, [['retry-after', String(refused.details['retryAfter'])]]);
      }
    }
    return new RequestContextValue(
      requestId,
      clientIp,
      userAgentFrom(req.headers),
      auth ? header : undefined,
      auth,
      limits,
      labels,
      deps.logger,
    );
  };
}

/**
 * The context value. The child logger is made on first use (most requests never log, and a pino child
 * per request is a measurable share of the gateway's work on small queries), from a getter on the
 * prototype: Apollo copies the context's own properties into a fresh object for each operation,
 * which would call an own getter at once.
 */
class RequestContextValue implements GatewayContext {
  private childLogger: Logger | undefined;
  leanDone: LeanDone | undefined;

  constructor(
    readonly requestId: string,
    readonly clientIp: string,
    readonly userAgent: string | undefined,
    readonly authorization: string | undefined,
    readonly auth: AuthClaims | null,
    readonly tenantLimits: TenantWindowLimits | undefined,
    readonly labels: RequestLabels,
    private readonly baseLogger: Logger,
  ) {}

  get logger(): Logger {
    this.childLogger ??= this.baseLogger.child({
      requestId: this.requestId,
      userId: this.auth?.userId,
      tenantId: this.auth?.tenantId,
    });
    return this.childLogger;
  }
}
