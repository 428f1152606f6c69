import type { Config } from '../../../lib/config.js';
import { callInternal } from '../../../lib/internal-client.js';

/** What the sessions service returns when it opens or rotates a session. */
export interface SessionGrant {
  sessionId: string;
  userId: string;
  tenantId: string;
  refreshToken: string;
  expiresAt: string;
}

/** Where a request came from, recorded on the session. */
export interface ClientInfo {
  ipAddress?: string | undefined;
  userAgent?: string | undefined;
  requestId?: string | undefined;
}

/** Auth's view of the sessions service: its internal (service-token) GraphQL fields. */
export interface SessionsClient {
  open(
    input: { userId: string; tenantId: string; method: 'password' | 'oidc' | 'register' },
    client: ClientInfo,
  ): Promise<SessionGrant>;
  rotate(refreshToken: string, client: ClientInfo): Promise<SessionGrant>;
  switchTenant(sessionId: string, tenantId: string, client: ClientInfo): Promise<SessionGrant>;
  end(sessionId: string, client: ClientInfo): Promise<boolean>;
}

const GRANT = 'sessionId userId tenantId refreshToken expiresAt';

/** {@link SessionsClient} over HTTP at `config.sessionsUrl`. */
export function createSessionsClient(config: Pick<Config, 'SERVICE_TOKEN' | 'sessionsUrl'>): SessionsClient {
  const call = <T>(query: string, variables: Record<string, unknown>, requestId?: string): Promise<T> =>
    callInternal<T>(config, config.sessionsUrl, query, variables, requestId);
  return {
    async open(input, client) {
      const data = await call<{ openSession: SessionGrant }>(
        `mutation($input: OpenSessionInput!) { openSession(input: $input) { ${GRANT} } }`,
        { input: { ...input, ipAddress: client.ipAddress ?? null, userAgent: client.userAgent ?? null } },
        client.requestId,
      );
      return data.openSession;
    },
    async rotate(refreshToken, client) {
      const data = await call<{ rotateRefreshToken: SessionGrant }>(
        `mutation($t: String!, $ip: String, $ua: String) { rotateRefreshToken(refreshToken: $t, ipAddress: $ip, userAgent: $ua) { ${GRANT} } }`,
        { t: refreshToken, ip: client.ipAddress ?? null, ua: client.userAgent ?? null },
        client.requestId,
      );
      return data.rotateRefreshToken;
    },
    async switchTenant(sessionId, tenantId, client) {
      const data = await call<{ switchSessionTenant: SessionGrant }>(
        `mutation($s: ID!, $t: ID!, $ip: String) { switchSessionTenant(sessionId: $s, tenantId: $t, ipAddress: $ip) { ${GRANT} } }`,
        { s: sessionId, t: tenantId, ip: client.ipAddress ?? null },
        client.requestId,
      );
      return data.switchSessionTenant;
    },
    async end(sessionId, client) {
      const data = await call<{ endSession: boolean }>(
        'mutation($s: ID!, $ip: String) { endSession(sessionId: $s, ipAddress: $ip) }',
        { s: sessionId, ip: client.ipAddress ?? null },
        client.requestId,
      );
      return data.endSession;
    },
  };
}
