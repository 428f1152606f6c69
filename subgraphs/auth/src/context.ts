import type { RequestContext } from '../../../lib/context.js';
import type { AuthService } from './auth.service.js';
import type { OidcService } from './oidc.service.js';
import type { ClientInfo } from './sessions.client.js';

/** Context of the auth subgraph: lib's request context plus auth's services. */
export interface AuthContext extends RequestContext {
  accounts: AuthService;
  /** Null when OIDC is not configured. */
  oidc: OidcService | null;
}

/** Where the request came from, as recorded on sessions. */
export function clientInfo(ctx: RequestContext): ClientInfo {
  return { ipAddress: ctx.ip, userAgent: ctx.userAgent, requestId: ctx.requestId };
}
