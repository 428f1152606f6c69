import type { Config } from './config.js';
import { AppError, ErrorCode, type ErrorCode as Code } from './errors.js';
import { injectTraceContext } from './telemetry.js';

interface GraphQLResponse<T> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string } & Record<string, unknown> }[];
}

const CODES = new Set<string>(Object.values(ErrorCode));

/**
 * Calls another service's internal GraphQL fields (marked `@inaccessible` in the supergraph) with the
 * service token. A domain error from the callee is re-raised with its code, so it surfaces unchanged.
 */
export async function callInternal<T>(
  config: Pick<Config, 'SERVICE_TOKEN'>,
  url: string,
  query: string,
  variables: Record<string, unknown>,
  requestId?: string,
): Promise<T> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-service-token': config.SERVICE_TOKEN,
    ...(requestId ? { 'x-request-id': requestId } : {}),
  };
  // fetch is not instrumented (undici): the caller's trace continues through this header.
  injectTraceContext(headers);
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as GraphQLResponse<T>;
  const first = body.errors?.[0];
  if (first) {
    const code = first.extensions?.code;
    if (code && CODES.has(code) && code !== ErrorCode.Internal) {
      const { code: _c, ...details } = first.extensions ?? {};
      throw new AppError(code as Code, first.message, details);
    }
    throw new Error(`internal call failed: ${first.message}`);
  }
  if (!body.data) throw new Error(`internal call returned no data (HTTP ${res.status})`);
  return body.data;
}
