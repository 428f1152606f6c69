import type { Express } from 'express';
import { isServiceCall } from '../../../lib/auth.js';
import type { Config } from '../../../lib/config.js';
import type { SessionService } from './session.service.js';
import { ErrorCode } from '../../../lib/errors.js';

/**
 * `GET /internal/sessions/:id` → `{ live }` for lib/auth CachedSessionLiveness. Requires the service
 * token (401 without one, 403 with a wrong one); 404 for unknown or expired sessions. A live answer
 * counts as a use of the session and slides its expiry.
 */
export function mountInternalRoutes(
  app: Express,
  config: Pick<Config, 'SERVICE_TOKEN'>,
  sessions: SessionService,
) {
  app.get('/internal/sessions/:id', async (req, res) => {
    const token = req.headers['x-service-token'];
    if (token === undefined) {
      res.status(401).json({ error: { code: ErrorCode.Unauthenticated, message: 'Service token required' } });
      return;
    }
    if (!isServiceCall(token, config)) {
      res.status(403).json({ error: { code: ErrorCode.Forbidden, message: 'Invalid service token' } });
      return;
    }
    res.set('cache-control', 'no-store');
    const liveness = await sessions.liveness(req.params.id);
    if (liveness === 'unknown') {
      res.status(404).json({ live: false });
      return;
    }
    res.json({ live: liveness === 'live' });
  });
}
