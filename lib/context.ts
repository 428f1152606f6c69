import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { AccessTokenVerifier, AuthClaims, Role } from './auth.js';
import type { Config } from './config.js';
import { forbidden, unauthenticated } from './errors.js';
import { hasIngressCredential, hasServiceToken } from './ingress.js';
import type { Logger } from './logger.js';

/** What every subgraph resolver receives. */
export interface RequestContext {
  requestId: string;
  /** Verified access-token claims; null for anonymous calls. */
  auth: AuthClaims | null;
  /** True when the caller presented the internal service token (service-to-service call). */
  service: boolean;
  ip: string | undefined;
  userAgent: string | undefined;
  logger: Logger;
}

/** A request id from the caller when well-formed, a new one otherwise. */
export function requestIdFrom(headers: IncomingHttpHeaders): string {
  const given = headers['x-request-id'];
  return typeof given === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(given) ? given : randomUUID();
}

/** The longest `user-agent` kept (sessions store it; a client picks its length). */
export const MAX_USER_AGENT_LENGTH = 512;

/** The caller's `user-agent`, clipped to {@link MAX_USER_AGENT_LENGTH}; undefined when absent. */
export function userAgentFrom(headers: IncomingHttpHeaders): string | undefined {
  const ua = headers['user-agent'];
  return typeof ua === 'string' ? ua.slice(0, MAX_USER_AGENT_LENGTH) : undefined;
}

/**
 * The client IP of a subgraph request: the `x-forwarded-for` the gateway sets (one address, the client
 * it verified through TRUSTED_PROXIES) only when the request carries the service credential
 * (`trusted`); anyone else gets their socket address, whatever header they send.
 */
export function clientIp(
  headers: IncomingHttpHeaders,
  remote: string | undefined,
  trusted: boolean,
): string | undefined {
  if (!trusted) return remote;
  const fwd = headers['x-forwarded-for'];
  const first = typeof fwd === 'string' ? fwd.split(',')[0]?.trim() : undefined;
  return first && first.length > 0 ? first : remote;
}

/** Builds the {@link RequestContext} of a subgraph request: verifies the JWT again (zero trust). */
export async function buildRequestContext(opts: {
  headers: IncomingHttpHeaders;
  remoteAddress: string | undefined;
  verifier: Pick<AccessTokenVerifier, 'verifyHeader'>;
  config: Pick<Config, 'SERVICE_TOKEN'>;
  logger: Logger;
  /**
   * True when the caller already proved the service credential (the subgraph's ingress check ran on
   * this request): the check is not hashed again. @default checked here
   */
  ingressVerified?: boolean;
}): Promise<RequestContext> {
  const requestId = requestIdFrom(opts.headers);
  const auth = await opts.verifier.verifyHeader(opts.headers.authorization);
  const trusted = opts.ingressVerified === true || hasIngressCredential(opts.headers, opts.config);
  return {
    requestId,
    auth,
    service: hasServiceToken(opts.headers, opts.config),
    ip: clientIp(opts.headers, opts.remoteAddress, trusted),
    userAgent: userAgentFrom(opts.headers),
    logger: lazyChild(opts.logger, { requestId, userId: auth?.userId, tenantId: auth?.tenantId }),
  };
}

/**
 * `base.child(bindings)`, made on first use: most requests never log, and pino's child() (bindings
 * serialized through the redaction paths) is a measurable part of a small request. A Proxy rather than
 * a getter, because contexts are spread into the subgraphs' own and copied by Apollo per operation,
 * which would call a getter at once.
 */
function lazyChild(base: Logger, bindings: Record<string, unknown>): Logger {
  let child: Logger | undefined;
  const real = (): Logger => (child ??= base.child(bindings));
  return new Proxy(base, {
    get(_target, prop) {
      const logger = real();
      const value: unknown = Reflect.get(logger, prop, logger);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(logger) : value;
    },
    set: (_target, prop, value) => Reflect.set(real(), prop, value),
    has: (_target, prop) => Reflect.has(real(), prop),
  });
}

/** The caller's claims, or UNAUTHENTICATED. */
export function requireAuth(ctx: RequestContext): AuthClaims {
  if (!ctx.auth) throw unauthenticated();
  return ctx.auth;
}

/** Internal fields are reachable only with the service token. */
export function requireService(ctx: RequestContext): void {
  if (!ctx.service) throw forbidden('Internal operation');
}

/** The caller's claims when their role in the current tenant is at least one of `roles`, or a platform admin. */
export function requireRole(ctx: RequestContext, roles: readonly Role[]): AuthClaims {
  const auth = requireAuth(ctx);
  if (!auth.platformAdmin && !roles.includes(auth.role)) throw forbidden();
  return auth;
}
