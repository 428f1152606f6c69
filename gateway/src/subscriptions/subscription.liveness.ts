/**
 * Fresh session-liveness answers for open sockets. Revocations reach the gateway on Redis pub/sub and
 * close sockets at once; a message lost on the way (a subscriber reconnecting, a network split) must
 * still close them within the re-check interval, so this asks the sessions service itself and never
 * the request path's cache, whose live answers are trusted for SESSION_CACHE_SECONDS. Unlike the
 * request path it does not fail closed: a sessions outage must not close every socket at once, and
 * the token's own expiry still bounds how long an unconfirmed socket stays open.
 */
import type { Config } from '../../../lib/config.js';
import type { Logger } from '../../../lib/logger.js';
import { SessionLivenessClient } from '../../../lib/session-liveness-client.js';

/** `live` / `ended`, or `unknown` when the sessions service could not answer. */
export type Liveness = 'live' | 'ended' | 'unknown';

/**
 * Asks the sessions service whether a session is live; concurrent questions of one session share one
 * call, and the questions of one turn of the event loop go as one batch (sockets re-check in bursts).
 */
export class SessionRecheck {
  private readonly inFlight = new Map<string, Promise<Liveness>>();
  private readonly client: SessionLivenessClient;

  constructor(
    config: Pick<Config, 'sessionsUrl' | 'SERVICE_TOKEN'>,
    private readonly logger: Logger,
    timeoutMs = 3000,
  ) {
    this.client = new SessionLivenessClient(config, timeoutMs);
  }

  /** The session's state now, from the sessions service. */
  check(sessionId: string): Promise<Liveness> {
    let pending = this.inFlight.get(sessionId);
    if (!pending) {
      pending = this.fetch(sessionId).finally(() => this.inFlight.delete(sessionId));
      this.inFlight.set(sessionId, pending);
    }
    return pending;
  }

  private async fetch(sessionId: string): Promise<Liveness> {
    try {
      return (await this.client.isLive(sessionId)) ? 'live' : 'ended';
    } catch (err) {
      this.logger.warn({ err }, 'socket session re-check failed; asking again at the next interval');
      return 'unknown';
    }
  }
}
