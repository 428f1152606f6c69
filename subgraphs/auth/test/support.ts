/**
 * Helpers shared by auth's integration tests: the real sessions, tenants and auth services started
 * in-process on a test namespace, GraphQL calls, token verification and metric reads.
 */
import pg from 'pg';
import { AccessTokenVerifier, CachedSessionLiveness, type AuthClaims } from '../../../lib/auth.js';
import type { Service } from '../../../lib/http.js';
import { createLogger } from '../../../lib/logger.js';
import type { TestConfig as Config } from '../../../test/support/env.js';
import { GRAPHQL_RESPONSE_ACCEPT, subgraphGql, type GraphQLResult } from '../../../test/support/graphql.js';
import { createAuthService, type AuthDeps } from '../src/service.js';
import { createSessionsService, createTenantsService } from '../../../test/support/services.js';

/** The AuthPayload fields every test asks for. */
export const PAYLOAD =
  'accessToken refreshToken expiresAt user { id email createdAt } session { id } tenant { id }';

/** The sign-up and sign-in mutations as a client sends them, answering {@link PAYLOAD}. */
export const REGISTER = `mutation($input: RegisterInput!) { register(input: $input) { ${PAYLOAD} } }`;
export const LOGIN = `mutation($input: LoginInput!) { login(input: $input) { ${PAYLOAD} } }`;
/** A password every policy of the tests accepts. */
export const PASSWORD = 'correct horse battery staple';

export interface Payload {
  accessToken: string;
  refreshToken: string;
  expiresAt: string;
  user: { id: string; email: string; createdAt: string };
  session: { id: string };
  tenant: { id: string };
}

/** Configuration overrides that keep argon2 fast in tests (the production cost is the default). */
export const FAST_HASHING = { ARGON2_MEMORY_KIB: '1024', ARGON2_TIME_COST: '1' } as const;

export interface Identity {
  services: Service[];
  authUrl: string;
  sessionsUrl: string;
  tenantsUrl: string;
  stop(): Promise<void>;
}

/** Starts sessions, tenants and auth (in that order) on the namespace's ports. */
export async function startIdentity(config: Config, authDeps: AuthDeps = {}): Promise<Identity> {
  const started: Service[] = [];
  const start = async (s: Service): Promise<string> => {
    const { url } = await s.start();
    started.push(s);
    return url;
  };
  try {
    const sessionsUrl = await start(createSessionsService(config));
    const tenantsUrl = await start(createTenantsService(config));
    const authUrl = await start(createAuthService(config, authDeps));
    return {
      services: started,
      authUrl,
      sessionsUrl,
      tenantsUrl,
      async stop() {
        for (const s of [...started].reverse()) await s.stop();
      },
    };
  } catch (err) {
    for (const s of [...started].reverse()) await s.stop().catch(() => undefined);
    throw err;
  }
}

/** A GraphQL call to a service's `/graphql`, as a GraphQL-over-HTTP client would send it. */
export function call<T = Record<string, unknown>>(
  baseUrl: string,
  query: string,
  variables?: Record<string, unknown>,
  token?: string,
  headers: Record<string, string> = {},
): Promise<GraphQLResult<T>> {
  return subgraphGql<T>(baseUrl, query, variables, token, { accept: GRAPHQL_RESPONSE_ACCEPT, ...headers });
}

/** The `extensions.code` of the first error, if any. */
export function codeOf(r: GraphQLResult<unknown>): string | undefined {
  return r.errors?.[0]?.extensions?.code;
}

/**
 * Verifies an access token as every service does: signature against auth's JWKS over HTTP, then
 * liveness from the sessions service. A new verifier each time, so no cached liveness answer hides
 * a revocation.
 */
export function verifyFresh(config: Config, token: string): Promise<AuthClaims> {
  const verifier = new AccessTokenVerifier(
    config,
    new CachedSessionLiveness(config, createLogger(config, 'test')),
  );
  return verifier.verifyToken(token);
}

/** Sum of a counter's samples whose labels contain `labels` (e.g. `reason="throttled"`). */
export async function metric(baseUrl: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (labels && !line.includes(labels)) continue;
    total += Number(line.split(' ').pop());
  }
  return total;
}

/** Runs SQL as the superuser in the namespace's database (bypasses RLS; for assertions and setup). */
export async function adminQuery<R extends pg.QueryResultRow>(
  config: Config,
  sql: string,
  params: unknown[] = [],
): Promise<R[]> {
  const db = new URL(config.DATABASE_URL).pathname.slice(1);
  const url = new URL(config.DATABASE_ADMIN_URL);
  url.pathname = `/${db}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end();
  }
}
