import type { RequestContext } from '../../../lib/context.js';
import type { SessionService } from './session.service.js';

/** Context of the sessions subgraph: lib's request context plus the session rules. */
export interface SessionsContext extends RequestContext {
  sessions: SessionService;
}
