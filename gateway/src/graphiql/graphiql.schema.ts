/**
 * `GET /graphiql/schema`: the documented API schema of the supergraph being served, as an
 * introspection result in a GraphQL response (`{ data: { __schema } }`), for GraphiQL's docs explorer.
 * When introspection over /graphql is off (production), only callers with a verified token get it:
 * the schema is shown to signed-in users without opening introspection to anonymous ones. It goes
 * through the same token check and rate limits as a GraphQL request.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { Supergraph, printSchema } from '@apollo/federation-internals';
import type { Request, RequestHandler, Response } from 'express';
import { buildSchema, introspectionFromSchema } from 'graphql';
import { AppError, ErrorCode, unauthenticated, unavailableRetryAfter } from '../../../lib/errors.js';
import type { Logger } from '../../../lib/logger.js';
import { gatewayClientIp } from '../gateway.context.js';
import { authFailureReason, type GatewayMetrics } from '../gateway.metrics.js';
import { rateLimitError, type RateLimiter } from '../rate-limit.service.js';
import type { TenantLimits } from '../tenant-limits.js';
import type { HeaderVerifier } from '../../../lib/token-cache.js';

/** Path of the schema document. */
export const SCHEMA_PATH = '/graphiql/schema';

/** The message of the anonymous refusal; the page shows its own sign-in panel instead. */
export const SIGN_IN_MESSAGE =
  'Sign in to read the schema: send "Authorization: Bearer <access token>" (the login mutation returns one)';

/**
 * Replaces Apollo's refusal of introspection, which tells the caller to "pass introspection: true to
 * ApolloServer": the caller can do nothing with that; this says where the schema is.
 */
export const INTROSPECTION_OFF_MESSAGE = `Introspection is turned off on this server; signed-in users read the schema at GET ${SCHEMA_PATH} with "Authorization: Bearer <access token>"`;

interface SchemaDocument {
  sdl: string;
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

/**
 * The introspection result of the supergraph's API schema (what clients query: no join__ or link__
 * definitions, no @inaccessible elements), with descriptions and deprecations, built once per
 * supergraph text.
 */
export class ApiSchemaDocument {
  private current: SchemaDocument | undefined;

  constructor(private readonly supergraphSdl: () => string) {}

  /** The document for the supergraph now served. */
  get(): SchemaDocument {
    const sdl = this.supergraphSdl();
    if (this.current?.sdl === sdl) return this.current;
    // Printed and rebuilt with this module's graphql-js: federation-internals may load another copy.
    const schema = buildSchema(printSchema(Supergraph.build(sdl).apiSchema()));
    const introspection = introspectionFromSchema(schema, {
      descriptions: true,
      specifiedByUrl: true,
      directiveIsRepeatable: true,
      schemaDescription: true,
      inputValueDeprecation: true,
      // What the gateway's introspection answers (its graphql-js asks no isOneOf).
      oneOf: false,
    });
    const body = Buffer.from(JSON.stringify({ data: introspection }));
    this.current = {
      sdl,
      body,
      // Once per supergraph; small enough (a few hundred kB) to compress on the spot.
      gzip: gzipSync(body),
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
    };
    return this.current;
  }
}

/** What the schema route needs, available once the gateway has started. */
export interface SchemaRouteDeps {
  document: ApiSchemaDocument;
  verifier: HeaderVerifier;
  limiter: RateLimiter;
  tenantLimits: TenantLimits;
  metrics: GatewayMetrics;
  logger: Logger;
  /** Introspection is open over /graphql, so anonymous callers may read the schema here too. */
  anonymousAllowed: boolean;
}

function sendError(res: Response, status: number, err: AppError, headers: Record<string, string>): void {
  res
    .status(status)
    .set({ 'cache-control': 'no-store', ...headers })
    .type('application/json; charset=utf-8')
    .send(
      JSON.stringify({ errors: [{ message: err.message, extensions: { code: err.code, ...err.details } }] }),
    );
}

/** Answers `GET /graphiql/schema` (see the module comment). */
export function schemaHandler(deps: SchemaRouteDeps): RequestHandler {
  return async (req: Request, res: Response) => {
    const header = req.headers.authorization;
    let userId: string | undefined;
    let tenantId: string | undefined;
    let authError: AppError | undefined;
    try {
      const claims = await deps.verifier.verifyHeader(header);
      userId = claims?.userId;
      tenantId = claims?.tenantId;
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      authError = err;
    }
    const limits = tenantId ? await deps.tenantLimits.of(tenantId) : undefined;
    const verdict = deps.limiter.check({ ip: gatewayClientIp(req), userId, tenantId, limits });
    if (!verdict.allowed) {
      deps.metrics.rateLimited.inc({ scope: verdict.scope });
      sendError(res, 429, rateLimitError(verdict), {
        'retry-after': String(verdict.retryAfterSeconds),
      });
      return;
    }
    const retryAfter = unavailableRetryAfter(authError);
    if (authError && retryAfter !== undefined) {
      // Keys or session could not be checked now (lib/auth): retryable, not a bad token.
      deps.metrics.authFailures.inc({ reason: 'unavailable' });
      sendError(res, 503, authError, { 'retry-after': String(retryAfter) });
      return;
    }
    if (authError) {
      deps.metrics.authFailures.inc({ reason: authFailureReason(authError.message) });
      sendError(res, 401, authError, { 'www-authenticate': 'Bearer error="invalid_token"' });
      return;
    }
    if (!userId && !deps.anonymousAllowed) {
      sendError(res, 401, unauthenticated(SIGN_IN_MESSAGE), { 'www-authenticate': 'Bearer' });
      return;
    }
    let doc: SchemaDocument;
    try {
      doc = deps.document.get();
    } catch (err) {
      deps.logger.error({ err }, 'GraphiQL schema document unavailable');
      sendError(res, 500, new AppError(ErrorCode.Internal, 'Schema unavailable'), {});
      return;
    }
    // Per caller: a shared cache must not hand one user's answer to an anonymous caller.
    res.set({ etag: doc.etag, 'cache-control': 'private, no-cache', vary: 'authorization, accept-encoding' });
    res.type('application/json; charset=utf-8');
    if (req.headers['if-none-match'] === doc.etag) {
      res.status(304).end();
      return;
    }
    if (req.acceptsEncodings(['gzip', 'identity']) === 'gzip') {
      res.set('content-encoding', 'gzip').send(doc.gzip);
      return;
    }
    res.send(doc.body);
  };
}
