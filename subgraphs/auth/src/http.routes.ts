import type { Express } from 'express';
import { clientIp, requestIdFrom } from '../../../lib/context.js';
import { badInput } from '../../../lib/errors.js';
import type { AuthService } from './auth.service.js';
import type { SigningKeyStore } from './keys.js';
import type { OidcService } from './oidc.service.js';

/**
 * REST routes of auth: the JWKS (`GET /.well-known/jwks.json`, cacheable for five minutes; verifiers
 * refetch sooner when they meet an unknown `kid`) and the OIDC redirect target
 * (`GET /oauth/callback?code&state[&iss]`), which completes the login and answers the AuthPayload JSON.
 */
export function mountAuthRoutes(
  app: Express,
  deps: { keys: SigningKeyStore; accounts: AuthService; oidc: OidcService | null },
): void {
  app.get('/.well-known/jwks.json', (_req, res) => {
    res.set('cache-control', 'public, max-age=300');
    res.json(deps.keys.jwks());
  });

  app.get('/oauth/callback', async (req, res) => {
    res.set('cache-control', 'no-store');
    if (!deps.oidc) throw badInput('OIDC sign-in is not configured');
    const params = new URLSearchParams();
    for (const name of ['code', 'state', 'iss', 'error', 'error_description', 'session_state']) {
      const value = req.query[name];
      if (typeof value === 'string') params.set(name, value);
    }
    const { identity, organizationName } = await deps.oidc.complete(params);
    const ua = req.headers['user-agent'];
    const payload = await deps.accounts.loginWithIdentity(identity, organizationName, {
      // A browser redirect never carries the service credential: its socket address is its IP.
      ipAddress: clientIp(req.headers, req.socket.remoteAddress, false),
      userAgent: typeof ua === 'string' ? ua.slice(0, 512) : undefined,
      requestId: requestIdFrom(req.headers),
    });
    res.json(payload);
  });
}
