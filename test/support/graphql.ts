/**
 * Posting one GraphQL operation over HTTP, light enough for any test file (platform.ts re-exports
 * it). {@link gql} speaks as a web client to the gateway; {@link subgraphGql} speaks to a subgraph's
 * `/graphql` as the gateway does. Both add the file's ingress credential ({@link ingressHeaders}),
 * which the gateway ignores.
 */
import { ingressHeaders } from './ingress.js';

/** An answer: the HTTP status and headers beside the GraphQL body. */
export interface GraphQLResult<T> {
  status: number;
  data?: T;
  errors?: { message: string; path?: unknown[]; extensions?: { code?: string } & Record<string, unknown> }[];
  headers: Headers;
}

/** The `accept` of a GraphQL-over-HTTP client: the GraphQL response media type first. */
export const GRAPHQL_RESPONSE_ACCEPT = 'application/graphql-response+json, application/json';

/** Posts one GraphQL operation to `url`, as a web client would ({@link GRAPHQL_RESPONSE_ACCEPT}). */
export async function gql<T = Record<string, unknown>>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
  headers: Record<string, string> = {},
): Promise<GraphQLResult<T>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: GRAPHQL_RESPONSE_ACCEPT,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...ingressHeaders(),
      ...headers,
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as Omit<GraphQLResult<T>, 'status' | 'headers'>;
  return { ...body, status: res.status, headers: res.headers };
}

/**
 * Posts one GraphQL operation to the subgraph at `baseUrl` (its `/graphql`), asking for plain
 * `application/json` as the subgraph tests always have (a refused operation keeps status 200).
 */
export function subgraphGql<T = Record<string, unknown>>(
  baseUrl: string,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
  headers: Record<string, string> = {},
): Promise<GraphQLResult<T>> {
  return gql<T>(`${baseUrl}/graphql`, query, variables, token, { accept: 'application/json', ...headers });
}

/**
 * An answer as bytes: status, headers (all but `date`, in order) and body text, to compare two
 * servers' answers.
 */
export interface RawAnswer {
  status: number;
  headers: [string, string][];
  text: string;
}

/** POSTs a JSON body to `<base>/graphql` with only the headers given (and a JSON content type). */
export async function postRaw(
  base: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<RawAnswer> {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  const kept: [string, string][] = [];
  res.headers.forEach((value, key) => {
    if (key !== 'date') kept.push([key, value]);
  });
  return { status: res.status, headers: kept, text };
}
