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

/** `live` / `ended`, or `unknown` when the sessions service could not answer. */
export type Liveness = 'live' | 'ended' | 'unknown';

/** Asks the sessions service whether a session is live; concurrent questions of one session share one call. */
export class SessionRecheck {
  private readonly inFlight = new Map<string, Promise<Liveness>>();

  constructor(
    private readonly config: Pick<Config, 'sessionsUrl' | 'SERVICE_TOKEN'>,
    private readonly logger: Logger,
    private readonly timeoutMs = 3000,
  ) {}

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
      const res = await fetch(
        `${this.config.sessionsUrl}/internal/sessions/${encodeURIComponent(sessionId)}`,
        {
          headers: { 'x-service-token': this.config.SERVICE_TOKEN },
          signal: AbortSignal.timeout(this.timeoutMs),
        },
      );
      if (res.status === 404) return 'ended';
      if (!res.ok) throw new Error(`sessions answered ${res.status}`);
      const body = (await res.json()) as { live?: boolean };
      return body.live === true ? 'live' : 'ended';
    } catch (err) {
      this.logger.warn({ err }, 'socket session re-check failed; asking again at the next interval');
      return 'unknown';
    }
  }
}
