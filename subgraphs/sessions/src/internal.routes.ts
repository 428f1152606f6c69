import type { Express } from 'express';
import type { Config } from '../../../lib/config.js';
import { requireServiceToken } from '../../../lib/http.js';
import type { SessionService } from './session.service.js';
import { ErrorCode } from '../../../lib/errors.js';

/** Most session ids one `POST /internal/sessions/liveness` may ask about. */
export const LIVENESS_BATCH_MAX = 1000;

/**
 * `GET /internal/sessions/:id` → `{ live }` for lib/auth CachedSessionLiveness, and
 * `POST /internal/sessions/liveness` `{ ids }` → `{ live: { [id]: boolean } }` for many at once (the
 * gateway's sockets connect and re-check in bursts: one request instead of one per socket). Both
 * require the service token (401 without one, 403 with a wrong one); a single unknown or expired
 * session is 404, in a batch it is `false`. A live answer counts as a use of the session and slides
 * its expiry.
 */
export function mountInternalRoutes(
  app: Express,
  config: Pick<Config, 'SERVICE_TOKEN'>,
  sessions: SessionService,
) {
  app.post('/internal/sessions/liveness', async (req, res) => {
    if (!requireServiceToken(req, res, config)) return;
    const ids = (req.body as { ids?: unknown } | undefined)?.ids;
    if (
      !Array.isArray(ids) ||
      ids.length > LIVENESS_BATCH_MAX ||
      !ids.every((id): id is string => typeof id === 'string')
    ) {
      res.status(400).json({
        error: {
          code: ErrorCode.BadUserInput,
          message: `Expected { ids: [string] } with at most ${LIVENESS_BATCH_MAX} ids`,
        },
      });
      return;
    }
    const states = await Promise.all(ids.map((id) => sessions.liveness(id)));
    const live: Record<string, boolean> = {};
    ids.forEach((id, i) => (live[id] = states[i] === 'live'));
    res.json({ live });
  });
  app.get('/internal/sessions/:id', async (req, res) => {
    if (!requireServiceToken(req, res, config)) return;
    const liveness = await sessions.liveness(req.params.id);
    if (liveness === 'unknown') {
      res.status(404).json({ live: false });
      return;
    }
    res.json({ live: liveness === 'live' });
  });
}
