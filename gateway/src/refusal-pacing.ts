/**
 * Pacing of refusals (a tarpit): a caller that keeps sending what the gateway refuses (RATE_LIMITED,
 * QUERY_TOO_COMPLEX, QUOTA_EXCEEDED) gets its answers later, not sooner. The first refusals of a
 * window leave at once; beyond GATEWAY_REFUSALS_FREE in a window, each refused answer waits
 * GATEWAY_REFUSAL_DELAY_MS (or the shorter `retryAfter` it carries) on a timer, which costs no CPU,
 * so a client that ignores the refusals sends far fewer requests. Held answers are bounded per
 * caller and per process; beyond either bound the answer leaves at once and closes the connection.
 * The caller is the Authorization header, or the client IP when there is none.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Config } from '../../lib/config.js';
import { ErrorCode } from '../../lib/errors.js';

export type PacingConfig = Pick<
  Config,
  | 'GATEWAY_REFUSALS_FREE'
  | 'GATEWAY_REFUSAL_WINDOW_MS'
  | 'GATEWAY_REFUSAL_DELAY_MS'
  | 'GATEWAY_REFUSALS_MAX_HELD'
  | 'GATEWAY_REFUSALS_MAX_HELD_PER_CALLER'
>;

/** What to do with one refused answer: send it now, after `ms`, or now on a connection then closed. */
export type PacingVerdict = { send: 'now' } | { send: 'later'; ms: number } | { send: 'close' };

interface CallerState {
  windowStart: number;
  refusals: number;
  held: number;
}

/** The refusal codes that are paced: a client that repeats them gains nothing by asking again. */
export const PACED_CODES: ReadonlySet<string> = new Set<string>([
  ErrorCode.RateLimited,
  ErrorCode.QueryTooComplex,
  ErrorCode.QuotaExceeded,
]);

/** Callers remembered at most (the oldest window is dropped first). */
const MAX_CALLERS = 10_000;

export class RefusalPacing {
  private readonly callers = new Map<string, CallerState>();
  private held = 0;
  private readonly paced: Counter<'verdict'>;

  constructor(
    private readonly config: PacingConfig,
    registry: Registry,
    private readonly now: () => number = Date.now,
  ) {
    this.paced =
      (registry.getSingleMetric('gateway_refusals_paced_total') as Counter<'verdict'> | undefined) ??
      new Counter({
        name: 'gateway_refusals_paced_total',
        help: 'Refused answers by pacing verdict: now (within the free refusals), later (held), close (over the held bounds)',
        labelNames: ['verdict'],
        registers: [registry],
      });
    if (!registry.getSingleMetric('gateway_refusals_held')) {
      const holding = (): number => this.held;
      new Gauge({
        name: 'gateway_refusals_held',
        help: 'Refused answers waiting to be sent (paced)',
        registers: [registry],
        collect() {
          this.set(holding());
        },
      });
    }
  }

  /** Answers held right now (for tests and the gauge). */
  get holding(): number {
    return this.held;
  }

  /**
   * Counts one refusal of `caller` and says when its answer leaves.
   * @param retryAfterSeconds the refusal's own `retryAfter`, when it has one
   */
  verdict(caller: string, retryAfterSeconds?: number): PacingVerdict {
    const c = this.config;
    const at = this.now();
    let state = this.callers.get(caller);
    if (!state || at - state.windowStart >= c.GATEWAY_REFUSAL_WINDOW_MS) {
      if (state) this.callers.delete(caller);
      state = { windowStart: at, refusals: 0, held: state?.held ?? 0 };
      if (this.callers.size >= MAX_CALLERS) {
        const oldest = this.callers.keys().next().value;
        if (oldest !== undefined) this.callers.delete(oldest);
      }
      this.callers.set(caller, state);
    }
    state.refusals++;
    if (state.refusals <= c.GATEWAY_REFUSALS_FREE || c.GATEWAY_REFUSAL_DELAY_MS === 0) {
      this.paced.inc({ verdict: 'now' });
      return { send: 'now' };
    }
    if (state.held >= c.GATEWAY_REFUSALS_MAX_HELD_PER_CALLER || this.held >= c.GATEWAY_REFUSALS_MAX_HELD) {
      this.paced.inc({ verdict: 'close' });
      return { send: 'close' };
    }
    const ms =
      retryAfterSeconds !== undefined && retryAfterSeconds > 0
        ? Math.min(c.GATEWAY_REFUSAL_DELAY_MS, Math.ceil(retryAfterSeconds * 1000))
        : c.GATEWAY_REFUSAL_DELAY_MS;
    this.paced.inc({ verdict: 'later' });
    return { send: 'later', ms };
  }

  /**
   * Runs `send` as the verdict says: now, or after the delay (counted as held until then). An
   * answer whose connection closed while it waited is dropped.
   */
  pace(
    caller: string,
    retryAfterSeconds: number | undefined,
    res: { destroyed: boolean; setHeader(name: string, value: string): unknown },
    send: () => void,
  ): void {
    const v = this.verdict(caller, retryAfterSeconds);
    if (v.send === 'now') {
      send();
      return;
    }
    if (v.send === 'close') {
      res.setHeader('connection', 'close');
      send();
      return;
    }
    const state = this.callers.get(caller);
    if (state) state.held++;
    this.held++;
    setTimeout(() => {
      this.held--;
      const s = this.callers.get(caller);
      if (s && s.held > 0) s.held--;
      if (!res.destroyed) send();
    }, v.ms).unref();
  }
}

/** The paced caller of a request: its Authorization header, or its client IP. */
export function callerOf(req: {
  headers: { authorization?: string | undefined };
  ip?: string | undefined;
}): string {
  return req.headers.authorization ?? `ip:${req.ip ?? ''}`;
}

/**
 * The `retryAfter` of a refused GraphQL answer when every error in it is a paced refusal and it
 * carries no data (0 when none names one); undefined when the answer is not a refusal.
 */
export function refusalOf(body: string): number | undefined {
  // Answers with data are never paced: skip the parse for them.
  if (body.includes('"data":{')) return undefined;
  let parsed: { data?: unknown; errors?: { extensions?: { code?: unknown; retryAfter?: unknown } }[] };
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    return undefined;
  }
  if (parsed.data !== undefined && parsed.data !== null) return undefined;
  const errors = parsed.errors ?? [];
  if (errors.length === 0) return undefined;
  let retryAfter = 0;
  for (const e of errors) {
    const code = e.extensions?.code;
    if (typeof code !== 'string' || !PACED_CODES.has(code)) return undefined;
    const after = e.extensions?.retryAfter;
    if (typeof after === 'number') retryAfter = Math.max(retryAfter, after);
  }
  return retryAfter;
}
