/**
 * The tenants service's internal HTTP endpoint, for the gateway (service token only):
 *   GET /internal/tenants/:id/limits -> 200 {requestsPerMinute, requestsPerMinutePerUser, costPerMinute}
 * Each value is the tenant's override per minute, or null for the platform default.
 */
import type { Express, Request, Response } from 'express';
import { isServiceCall } from '../../../lib/auth.js';
import type { Config } from '../../../lib/config.js';
import { ErrorCode } from '../../../lib/errors.js';
import type { TenantsServices } from './context.js';

/**
 * Answers 401/403 unless the request carries the service token; true when it does. Every answer,
 * refusals included, is `cache-control: no-store`.
 */
function serviceCall(req: Request, res: Response, config: Pick<Config, 'SERVICE_TOKEN'>): boolean {
  res.set('cache-control', 'no-store');
  const token = req.headers['x-service-token'];
  if (token === undefined) {
    res.status(401).json({ error: { code: ErrorCode.Unauthenticated, message: 'Service token required' } });
    return false;
  }
  if (!isServiceCall(token, config)) {
    res.status(403).json({ error: { code: ErrorCode.Forbidden, message: 'Invalid service token' } });
    return false;
  }
  return true;
}

/**
 * Mounts `GET /internal/tenants/:id/limits`: the tenant's raw limit overrides (null: the default),
 * read in the platform (system) scope. 401 without the service token, 403 with a wrong one, 404 `{}`
 * for an unknown tenant or an id that is not a UUID. `services` is read per request (it exists once
 * the service started).
 */
export function mountInternalRoutes(
  app: Express,
  config: Pick<Config, 'SERVICE_TOKEN'>,
  services: () => TenantsServices,
): void {
  app.get('/internal/tenants/:id/limits', async (req, res) => {
    if (!serviceCall(req, res, config)) return;
    const overrides = await services().limits.overrides(String(req.params['id']));
    if (!overrides) {
      res.status(404).json({});
      return;
    }
    res.json(overrides);
  });
}
