/**
 * Request limits of the graphql-ws path: the static document rules shared with HTTP, the rate limits of
 * `connection_init` and `subscribe`, and the client IP they are counted against. The per-socket
 * limiter lives in memory (rate-limiter-flexible): a socket exists in one process only; per-user and
 * per-IP limits are the gateway's window counters, decided in memory and summed in Redis so every
 * replica shares them (../window-sync.counter.ts).
 */
import { GraphQLError, specifiedRules, validate, type DocumentNode, type GraphQLSchema } from 'graphql';
import { LRUCache } from 'lru-cache';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../../../lib/config.js';
import { ErrorCode, AppError, queryTooComplex, rateLimited, toGraphQLError } from '../../../lib/errors.js';
import type { LimitVerdict, OperationLimits } from '../operation-limits.js';
import { burstShare } from '../rate-limit.service.js';
import type { WindowCounter, WindowSync } from '../window-sync.counter.js';

/** A checked document, or the errors to answer its subscribe with (`limit` names a refused limit). */
export type DocumentCheck =
  { document: DocumentNode } | { errors: readonly GraphQLError[]; limit: string | undefined };

/** What a graphql-ws `subscribe` message carries. */
export interface SubscribePayload {
  query: unknown;
  operationName?: string | null | undefined;
  variables?: Readonly<Record<string, unknown>> | null | undefined;
}

/**
 * The one place the ws path applies the HTTP path's static rules: size, then tokens while parsing,
 * then validation against the API schema, then depth, aliases, directives and cost through the same
 * {@link OperationLimits} the HTTP admission uses. A refused limit answers QUERY_TOO_COMPLEX naming it.
 */
export function validateSubscriptionDocument(
  schema: GraphQLSchema,
  payload: SubscribePayload,
  maxBytes: number,
  limits: OperationLimits,
): DocumentCheck {
  const query = payload.query;
  if (typeof query !== 'string') {
    return {
      errors: [new GraphQLError('Missing query', { extensions: { code: ErrorCode.BadUserInput } })],
      limit: undefined,
    };
  }
  const bytes = Buffer.byteLength(query);
  if (bytes > maxBytes) {
    const err = queryTooComplex(`Query size ${bytes} bytes exceeds the limit of ${maxBytes}`, {
      limit: 'size',
      max: maxBytes,
    });
    return { errors: [toGraphQLError(err)], limit: 'size' };
  }
  let document: DocumentNode;
  try {
    document = limits.parse(query);
  } catch (err) {
    if (err instanceof AppError) return { errors: [toGraphQLError(err)], limit: 'tokens' };
    if (err instanceof GraphQLError) return { errors: [err], limit: undefined };
    throw err;
  }
  const errors = validate(schema, document, specifiedRules);
  if (errors.length > 0) return { errors, limit: undefined };
  const verdict = limits.check(document, payload.operationName, payload.variables);
  if (!verdict.ok) return { errors: [toGraphQLError(verdict.error)], limit: verdict.limit };
  return { document };
}

interface CheckedDocument {
  schema: GraphQLSchema;
  limits: OperationLimits;
  document: DocumentNode;
  /** Verdicts of the limits by operation name and variables (the cost reads them), a few per document. */
  verdicts: Map<string, LimitVerdict>;
}

/** Verdicts remembered per document; past that the map starts over (clients rarely vary this much). */
const VERDICTS_PER_DOCUMENT = 64;

/**
 * {@link validateSubscriptionDocument} with the parsed and validated documents remembered by their
 * text: thousands of clients send the same few subscriptions, so each text is parsed and validated once
 * per schema, and its subscriptions share one document (parsing it for each cost CPU on every connect
 * and kept a copy of the AST per subscription); the verdict of the limits is remembered per operation
 * name and variables (the cost reads them). Entries are dropped when the schema or the limits change
 * (a supergraph reload).
 */
export class SubscriptionDocuments {
  private readonly cache = new LRUCache<string, CheckedDocument>({
    max: 1000,
    // The AST is several times its text; bounded so that large documents cannot hold much memory.
    maxSize: 16 * 1024 * 1024,
    sizeCalculation: (_v, query) => Math.max(1, query.length * 8),
  });

  /** Whether `query` was parsed and validated before for this schema and these limits. */
  knows(schema: GraphQLSchema, query: unknown, limits: OperationLimits): boolean {
    if (typeof query !== 'string') return true; // refused without parsing anything
    const hit = this.cache.get(query);
    return hit !== undefined && hit.schema === schema && hit.limits === limits;
  }

  /** See {@link validateSubscriptionDocument}. */
  check(
    schema: GraphQLSchema,
    payload: SubscribePayload,
    maxBytes: number,
    limits: OperationLimits,
  ): DocumentCheck {
    const query = payload.query;
    const hit = typeof query === 'string' ? this.cache.get(query) : undefined;
    if (hit && hit.schema === schema && hit.limits === limits) {
      // The verdict depends on the document (fixed here), the operation and the variables, nothing else.
      const key = `${payload.operationName ?? ''}\n${JSON.stringify(payload.variables ?? null)}`;
      let verdict = hit.verdicts.get(key);
      if (!verdict) {
        verdict = limits.check(hit.document, payload.operationName, payload.variables);
        if (hit.verdicts.size >= VERDICTS_PER_DOCUMENT) hit.verdicts.clear();
        hit.verdicts.set(key, verdict);
      }
      if (!verdict.ok) return { errors: [toGraphQLError(verdict.error)], limit: verdict.limit };
      return { document: hit.document };
    }
    const checked = validateSubscriptionDocument(schema, payload, maxBytes, limits);
    if ('document' in checked && typeof query === 'string') {
      this.cache.set(query, { schema, limits, document: checked.document, verdicts: new Map() });
    }
    return checked;
  }
}

type RateConfig = Pick<
  Config,
  | 'SUBSCRIPTIONS_RATE_WINDOW_SECONDS'
  | 'SUBSCRIPTIONS_CONNECT_RATE_PER_IP'
  | 'SUBSCRIPTIONS_SUBSCRIBE_RATE_PER_SOCKET'
  | 'SUBSCRIPTIONS_SUBSCRIBE_RATE_PER_USER'
  | 'RATE_LIMIT_BURST_SECONDS'
  | 'RATE_LIMIT_BURST_FACTOR'
>;

/** A refused rate limit: the error to answer with and the limit's metric label. */
export interface RateRefusal {
  error: AppError;
  limit: 'connect_rate_per_ip' | 'subscribe_rate_per_socket' | 'subscribe_rate_per_user';
}

/**
 * Rate limits of `connection_init` (per IP) and `subscribe` (per socket, per user). The per-user
 * subscribe rate also holds over the HTTP limits' burst window (RATE_LIMIT_BURST_SECONDS at
 * RATE_LIMIT_BURST_FACTOR times its average rate, 34 a second by default): a fixed window alone let a
 * client open a minute's allowance in its first second, and every subscription it opened then was
 * validated, planned and started upstream while other tenants' requests waited
 * (bench/noisy-neighbour.ts). A web client opens a handful at once (the web desk: one for prices).
 */
export class SubscriptionRateLimits {
  private readonly connect: WindowCounter;
  private readonly perUser: WindowCounter;
  /** The per-user rate over the burst window; undefined when bursts are not limited. */
  private readonly perUserBurst: WindowCounter | undefined;
  private readonly perSocket: RateLimiterMemory;

  /**
   * @param windows the gateway's counters synced with Redis (the HTTP rate limits' too): a
   *   `subscribe` or `connection_init` is decided in memory, and every replica's counts meet in Redis
   *   within a sync (a round trip per subscribe cost a burst of them as much as the rest of its checks)
   */
  constructor(
    windows: WindowSync,
    private readonly config: RateConfig,
  ) {
    const duration = config.SUBSCRIPTIONS_RATE_WINDOW_SECONDS;
    // rate-limiter-flexible's key layout, as before: replicas of an older gateway share the counts.
    this.connect = windows.counter('subs-connect-ip', config.SUBSCRIPTIONS_CONNECT_RATE_PER_IP, duration);
    this.perUser = windows.counter(
      'subs-subscribe-user',
      config.SUBSCRIPTIONS_SUBSCRIBE_RATE_PER_USER,
      duration,
    );
    const share = burstShare(config, duration);
    this.perUserBurst =
      share === undefined
        ? undefined
        : windows.counter(
            'subs-subscribe-user:burst',
            Math.max(1, Math.ceil(config.SUBSCRIPTIONS_SUBSCRIBE_RATE_PER_USER * share)),
            config.RATE_LIMIT_BURST_SECONDS,
          );
    this.perSocket = new RateLimiterMemory({
      keyPrefix: 'subs-subscribe-socket',
      points: config.SUBSCRIPTIONS_SUBSCRIBE_RATE_PER_SOCKET,
      duration,
    });
  }

  /** Counts one `connection_init` from `ip`; a refusal when over the limit. */
  // Async without an await: a counter too stale to believe throws, and callers get that as a rejection.
  // eslint-disable-next-line @typescript-eslint/require-await
  async connectionInit(ip: string): Promise<RateRefusal | undefined> {
    const wait = counted(this.connect, ip);
    if (wait === undefined) return undefined;
    const n = this.config.SUBSCRIPTIONS_CONNECT_RATE_PER_IP;
    return {
      limit: 'connect_rate_per_ip',
      error: rateLimited(wait, `Connections per client IP exceed the limit of ${n} per ${this.window()}`),
    };
  }

  /** Counts one `subscribe` against its socket and its user; a refusal when either is over. */
  async subscribe(socketKey: string, userId: string): Promise<RateRefusal | undefined> {
    const socketWait = await consume(this.perSocket, socketKey);
    if (socketWait !== undefined) {
      const n = this.config.SUBSCRIPTIONS_SUBSCRIBE_RATE_PER_SOCKET;
      return {
        limit: 'subscribe_rate_per_socket',
        error: rateLimited(
          socketWait,
          `Subscribes per socket exceed the limit of ${n} per ${this.window()}`,
          {
            limit: 'subscribe_rate_per_socket',
            max: n,
          },
        ),
      };
    }
    // Both windows count every subscribe (as the HTTP limits do); the first one over is reported.
    const userWait = counted(this.perUser, userId);
    const burst = this.perUserBurst;
    const burstWait = burst ? counted(burst, userId) : undefined;
    if (userWait !== undefined) {
      const n = this.config.SUBSCRIPTIONS_SUBSCRIBE_RATE_PER_USER;
      return this.perUserRefusal(userWait, n, this.config.SUBSCRIPTIONS_RATE_WINDOW_SECONDS);
    }
    if (burst && burstWait !== undefined) {
      return this.perUserRefusal(burstWait, burst.limit, this.config.RATE_LIMIT_BURST_SECONDS);
    }
    return undefined;
  }

  private perUserRefusal(wait: number, max: number, windowSeconds: number): RateRefusal {
    return {
      limit: 'subscribe_rate_per_user',
      error: rateLimited(wait, `Subscribes per user exceed the limit of ${max} per ${windowSeconds} s`, {
        limit: 'subscribe_rate_per_user',
        max,
        windowSeconds,
      }),
    };
  }

  /** Forgets a closed socket's counter. */
  forgetSocket(socketKey: string): void {
    void this.perSocket.delete(socketKey).catch(() => undefined);
  }

  private window(): string {
    return `${this.config.SUBSCRIPTIONS_RATE_WINDOW_SECONDS} s`;
  }
}

/**
 * Counts one against `key` (a refused one too: hammering does not reopen the window early).
 * @returns seconds to wait when refused, undefined when counted within the limit
 * @throws when Redis has been unreachable too long for the counts to be believed (fails closed)
 */
function counted(counter: WindowCounter, key: string): number | undefined {
  const verdict = counter.consume(key, 1, true);
  return verdict.allowed ? undefined : Math.max(1, Math.ceil(verdict.msBeforeNext / 1000));
}

/** @returns seconds to wait when refused, undefined when counted within the limit */
async function consume(limiter: RateLimiterMemory, key: string): Promise<number | undefined> {
  try {
    await limiter.consume(key);
    return undefined;
  } catch (err) {
    if (err instanceof RateLimiterRes) return Math.max(1, Math.ceil(err.msBeforeNext / 1000));
    throw err;
  }
}

/**
 * Runs one subscribe of a socket after the socket's previous one, and lets the next start only in a
 * later turn of the event loop: a socket that sends hundreds of subscribes at once is served one per
 * turn, in step with every other client's requests, instead of in one long run of callbacks ahead
 * of them (validation, caps in Redis, planning and refusals of a burst took the gateway's one core
 * for most of a second).
 */
export async function inTurn<T>(connection: { turn: Promise<void> }, fn: () => Promise<T>): Promise<T> {
  const previous = connection.turn;
  let done!: () => void;
  connection.turn = new Promise<void>((resolve) => (done = resolve));
  await previous;
  try {
    return await fn();
  } finally {
    setImmediate(done);
  }
}
