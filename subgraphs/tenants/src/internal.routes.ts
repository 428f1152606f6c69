/**
 * The tenants service's internal HTTP endpoint, for the gateway (service token only):
 *   GET /internal/tenants/:id/limits -> 200 {requestsPerMinute, requestsPerMinutePerUser, costPerMinute}
 * Each value is the tenant's override per minute, or null for the platform default.
 */
import type { Express } from 'express';
import type { Config } from '../../../lib/config.js';
import { requireServiceToken } from '../../../lib/http.js';
import type { TenantsServices } from './context.js';

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
    if (!requireServiceToken(req, res, config)) return;
    const overrides = await services().limits.overrides(String(req.params['id']));
    if (!overrides) {
      res.status(404).json({});
      return;
    }
    res.json(overrides);
  });
}
