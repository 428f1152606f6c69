/**
 * Asks the sessions service whether sessions are live, batching the questions asked in the same turn
 * of the event loop into one request. Thousands of graphql-ws sockets connect (after a gateway
 * restart) and re-check their sessions in bursts; one HTTP request per socket made the sessions check
 * the largest cost of a connection and timed out under load (BENCHMARKS.md, subscription fan-out).
 */
import type { Config } from './config.js';

/** Most ids sent in one batch (the sessions service accepts up to 1000). */
const BATCH_MAX = 500;

interface Waiter {
  resolve: (live: boolean) => void;
  reject: (err: unknown) => void;
}

/** Batches liveness questions to `POST /internal/sessions/liveness`; see the module comment. */
export class SessionLivenessClient {
  private pending = new Map<string, Waiter[]>();
  private scheduled = false;
  /** False once the sessions service answered 404 to a batch (an older version): one GET per id. */
  private batches = true;

  /** @param timeoutMs how long one request may take */
  constructor(
    private readonly config: Pick<Config, 'sessionsUrl' | 'SERVICE_TOKEN'>,
    private readonly timeoutMs = 3000,
  ) {}

  /**
   * Whether the session is live (false: revoked, expired or unknown).
   * @throws when the sessions service could not be asked or answered an error
   */
  isLive(sessionId: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const waiters = this.pending.get(sessionId);
      if (waiters) waiters.push({ resolve, reject });
      else this.pending.set(sessionId, [{ resolve, reject }]);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const all = this.pending;
    this.pending = new Map();
    const ids = [...all.keys()];
    for (let i = 0; i < ids.length; i += BATCH_MAX) {
      const chunk = ids.slice(i, i + BATCH_MAX);
      const settle = (answer: (id: string) => boolean | Error): void => {
        for (const id of chunk) {
          const a = answer(id);
          for (const w of all.get(id) ?? []) {
            if (a instanceof Error) w.reject(a);
            else w.resolve(a);
          }
        }
      };
      void this.ask(chunk).then(
        (live) => settle((id) => live.get(id) ?? new Error('sessions left a session out of its answer')),
        (err: unknown) => settle(() => (err instanceof Error ? err : new Error(String(err)))),
      );
    }
  }

  private async ask(ids: string[]): Promise<Map<string, boolean>> {
    const headers = { 'x-service-token': this.config.SERVICE_TOKEN };
    if (ids.length > 1 && this.batches) {
      const res = await fetch(`${this.config.sessionsUrl}/internal/sessions/liveness`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ ids }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      if (res.ok) {
        const body = (await res.json()) as { live?: unknown };
        const live = body.live;
        if (typeof live !== 'object' || live === null) throw new Error('sessions answered a malformed batch');
        return new Map(ids.map((id) => [id, (live as Record<string, unknown>)[id] === true]));
      }
      await res.body?.cancel();
      if (res.status !== 404) throw new Error(`sessions answered ${res.status}`);
      this.batches = false;
    }
    const answers = await Promise.all(ids.map((id) => this.askOne(id, headers)));
    return new Map(ids.map((id, i) => [id, answers[i] ?? false]));
  }

  private async askOne(id: string, headers: Record<string, string>): Promise<boolean> {
    const res = await fetch(`${this.config.sessionsUrl}/internal/sessions/${encodeURIComponent(id)}`, {
      headers,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (res.status === 404) {
      await res.body?.cancel();
      return false;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`sessions answered ${res.status}`);
    }
    const body = (await res.json()) as { live?: boolean };
    return body.live === true;
  }
}
