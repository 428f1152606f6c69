import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { Logger } from './logger.js';
import { activeTraceId } from './telemetry.js';

/** The closed set of error codes of the public API (`extensions.code`; a client may switch on them). */
export const ErrorCode = {
  Unauthenticated: 'UNAUTHENTICATED',
  Forbidden: 'FORBIDDEN',
  BadUserInput: 'BAD_USER_INPUT',
  NotFound: 'NOT_FOUND',
  Conflict: 'CONFLICT',
  RateLimited: 'RATE_LIMITED',
  RiskRejected: 'RISK_REJECTED',
  /** A static limit of the request itself (cost, depth, aliases, tokens, directives, size). */
  QueryTooComplex: 'QUERY_TOO_COMPLEX',
  /** A count cap (tenants owned, subscriptions, backups per day); `retryAfter` when waiting helps. */
  QuotaExceeded: 'QUOTA_EXCEEDED',
  Internal: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const PUBLIC_CODES = new Set<string>(Object.values(ErrorCode));

/**
 * Drops an error's stack: for errors that are answers, not faults. graphql-js wraps a thrown error in
 * a GraphQLError (every resolver error, every refusal), and when the wrapped error has a stack it
 * copies it over the GraphQLError's own, which makes V8 format the GraphQLError's captured frames:
 * with `--enable-source-maps`, each frame mapped through the bundle's source map (the first time, the
 * whole map parsed). Without a stack the GraphQLError keeps its own, formatted only if read.
 */
export function dropStack<T extends Error>(err: T): T {
  Object.defineProperty(err, 'stack', { value: undefined, writable: true, configurable: true });
  return err;
}

/** Builds an error without capturing frames and without a stack (see {@link dropStack}). */
export function withoutStack<T extends Error>(make: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return dropStack(make());
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * A domain error: safe to show to the caller, with a code from {@link ErrorCode}.
 *
 * It has no stack trace (see {@link dropStack}): it is an answer (a refusal, a missing row), not a
 * fault, and clients can make a process build thousands per second. The code and message say where
 * it came from.
 */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(message);
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.name = 'AppError';
    dropStack(this);
  }
}

export const unauthenticated = (message = 'Authentication required'): AppError =>
  new AppError(ErrorCode.Unauthenticated, message);
export const forbidden = (message = 'Not allowed'): AppError => new AppError(ErrorCode.Forbidden, message);
export const badInput = (message: string, details: Record<string, unknown> = {}): AppError =>
  new AppError(ErrorCode.BadUserInput, message, details);
export const notFound = (what: string): AppError => new AppError(ErrorCode.NotFound, `${what} not found`);
export const conflict = (message: string): AppError => new AppError(ErrorCode.Conflict, message);
/**
 * A throttle or budget that refills with time. `message` names the limit (e.g. "registrations per IP
 * address (5 per hour)"); `retryAfter` is whole seconds, at least 1.
 */
export const rateLimited = (
  retryAfterSeconds: number,
  message = 'Too many requests; retry later',
  details: Record<string, unknown> = {},
): AppError =>
  new AppError(ErrorCode.RateLimited, message, {
    ...details,
    retryAfter: Math.max(1, Math.ceil(retryAfterSeconds)),
  });
/** A static limit of the request: the message names it, `details` carry the measured value and the limit. */
export const queryTooComplex = (message: string, details: Record<string, unknown>): AppError =>
  new AppError(ErrorCode.QueryTooComplex, message, details);
/** A count cap; pass `retryAfter` (seconds) in `details` only when waiting frees room. */
export const quotaExceeded = (message: string, details: Record<string, unknown> = {}): AppError =>
  new AppError(ErrorCode.QuotaExceeded, message, details);

/**
 * A dependency needed to decide the request could not be asked (the sessions service, the signing
 * keys): the request is refused, but as INTERNAL_SERVER_ERROR with `retryAfter`, which clients retry,
 * never as UNAUTHENTICATED, which tells them to sign in again (a lost session, docs/reliability.md).
 */
export const unavailable = (message: string, retryAfterSeconds = 1): AppError =>
  new AppError(ErrorCode.Internal, message, { retryAfter: Math.max(1, Math.ceil(retryAfterSeconds)) });

/**
 * The retry delay (whole seconds) of an {@link unavailable} refusal, or undefined for any other error:
 * the one test of "could not be checked now, retry" every transport uses (503, close 1013).
 */
export function unavailableRetryAfter(err: unknown): number | undefined {
  if (!(err instanceof AppError) || err.code !== ErrorCode.Internal) return undefined;
  const retryAfter = err.details['retryAfter'];
  return typeof retryAfter === 'number' ? retryAfter : undefined;
}

/** HTTP status for a code, used by REST endpoints and the gateway's transport-level rejections. */
export function httpStatusFor(code: ErrorCode): number {
  switch (code) {
    case ErrorCode.Unauthenticated:
      return 401;
    case ErrorCode.Forbidden:
      return 403;
    case ErrorCode.BadUserInput:
      return 400;
    case ErrorCode.NotFound:
      return 404;
    case ErrorCode.Conflict:
      return 409;
    case ErrorCode.RateLimited:
      return 429;
    case ErrorCode.RiskRejected:
      return 422;
    case ErrorCode.QueryTooComplex:
      return 400;
    case ErrorCode.QuotaExceeded:
      return 429;
    case ErrorCode.Internal:
      return 500;
  }
}

/**
 * Converts a domain error to a GraphQLError carrying `extensions.code`, built without capturing frames
 * (see {@link withoutStack}): it is an answer like the AppError it carries, and the subscription
 * server builds one for every refused subscribe (hundreds in an abusive client's first second).
 */
export function toGraphQLError(err: AppError): GraphQLError {
  return withoutStack(
    () => new GraphQLError(err.message, { extensions: { code: err.code, ...err.details } }),
  );
}

function originalOf(error: unknown): unknown {
  let e = error;
  // GraphQLError wraps resolver errors in `originalError`, sometimes more than once. Duck-typed, not
  // `instanceof GraphQLError`: under vitest, graphql can load twice (its ESM build for our code, the
  // CommonJS one for Apollo), and the wrapper then comes from the other copy's class.
  while (
    !(e instanceof AppError) &&
    e instanceof Error &&
    'originalError' in e &&
    e.originalError instanceof Error
  ) {
    e = e.originalError;
  }
  return e;
}

/**
 * Apollo `formatError` for every server: domain errors keep their code and message,
 * GraphQL validation errors keep theirs, anything else is logged with the request id and masked.
 */
export function createErrorFormatter(
  logger: Logger,
): (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError {
  const format = maskingFormatter(logger);
  return (formatted, error) => withTraceId(format(formatted, error));
}

/**
 * `extensions.traceId`: the trace of the request that failed (lib/telemetry), for a user to quote and
 * an operator to look up. Absent when tracing is off.
 */
function withTraceId(formatted: GraphQLFormattedError): GraphQLFormattedError {
  const traceId = activeTraceId();
  if (traceId === undefined) return formatted;
  return { ...formatted, extensions: { ...formatted.extensions, traceId } };
}

function maskingFormatter(
  logger: Logger,
): (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError {
  return (formatted, error) => {
    const original = originalOf(error);
    if (original instanceof AppError) {
      return {
        message: original.message,
        ...(formatted.path ? { path: formatted.path } : {}),
        extensions: { code: original.code, ...original.details },
      };
    }
    const code = formatted.extensions?.['code'];
    if (typeof code === 'string' && PUBLIC_CODES.has(code) && code !== ErrorCode.Internal) {
      return strip(formatted, code);
    }
    if (
      code === 'GRAPHQL_VALIDATION_FAILED' ||
      code === 'GRAPHQL_PARSE_FAILED' ||
      code === 'BAD_REQUEST' ||
      code === 'PERSISTED_QUERY_NOT_FOUND' ||
      code === 'PERSISTED_QUERY_NOT_SUPPORTED' ||
      code === 'OPERATION_RESOLUTION_FAILURE'
    ) {
      return strip(formatted, code === 'OPERATION_RESOLUTION_FAILURE' ? ErrorCode.BadUserInput : code);
    }
    logger.error({ err: original, path: formatted.path }, 'unexpected error');
    return {
      message: 'Internal server error',
      ...(formatted.path ? { path: formatted.path } : {}),
      extensions: { code: ErrorCode.Internal },
    };
  };
}

function strip(formatted: GraphQLFormattedError, code: string): GraphQLFormattedError {
  const { stacktrace: _stack, exception: _exception, ...rest } = formatted.extensions ?? {};
  return { ...formatted, extensions: { ...rest, code } };
}
