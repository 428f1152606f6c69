/**
 * A document's first parse and validation, done once for every request that brings it at the same
 * time. Apollo keeps a document it has validated (and the gateway one a static limit refused), but
 * requests that arrive together before either has happened each parse and validate it again: a
 * client opening with six copies of a large document cost the gateway six validations in one
 * event-loop turn, on code not yet optimized (a 30-alias query: 8-15 ms each), while every other
 * tenant's requests waited behind them. Here the first request of a document not seen before goes
 * on; the others with the same text and operation name wait until Apollo has resolved its
 * operation (validation passed) or answered it (refused, or failed earlier), then go on and find
 * it validated or refused from memory. Waiting never outlasts the first request's answer nor
 * {@link FIRST_SIGHT_MAX_WAIT_MS} (the first may wait in its tenant's fairness queue, and another
 * tenant's copy must not wait on that), and a first request that ended before validation lets the
 * next waiter take its place.
 *
 * The first request of a new document is also what one caller may only bring so many of
 * ({@link NewDocuments}): a client sending a new text with every request made the gateway parse,
 * validate and plan each within its request rate limit.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { LRUCache } from 'lru-cache';
import { rateLimited, type AppError } from '../../lib/errors.js';
import type { GatewayMetrics } from './gateway.metrics.js';
import { documentKeyOf, SupergraphScoped } from './refused-documents.js';

/** Options of {@link NewDocuments}. */
export interface NewDocumentsConfig {
  GATEWAY_NEW_DOCUMENTS_PER_CALLER: number;
  GATEWAY_NEW_DOCUMENTS_WINDOW_SECONDS: number;
}

/** Callers whose windows are remembered (LRU beyond: a forgotten caller starts a new window). */
const NEW_DOCUMENT_CALLERS = 10_000;

/**
 * Documents new to this process brought by one caller per fixed window, counted in this process
 * alone: what it protects is this process's CPU (each replica parses, validates and plans for itself).
 */
export class NewDocuments {
  private readonly windows = new LRUCache<string, { count: number; resetAt: number }>({
    max: NEW_DOCUMENT_CALLERS,
  });

  constructor(
    private readonly config: NewDocumentsConfig,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Counts one new document against `caller` (`user:<id>`, or `ip:<address>` without a token).
   * @returns the refusal (RATE_LIMITED with retryAfter) when it is over the limit, else undefined
   */
  take(caller: string): AppError | undefined {
    const now = this.now();
    const windowMs = this.config.GATEWAY_NEW_DOCUMENTS_WINDOW_SECONDS * 1000;
    let w = this.windows.get(caller);
    if (!w || now >= w.resetAt) {
      w = { count: 0, resetAt: now + windowMs };
      this.windows.set(caller, w);
    }
    const max = this.config.GATEWAY_NEW_DOCUMENTS_PER_CALLER;
    if (w.count >= max) {
      return rateLimited(
        Math.max(1, Math.ceil((w.resetAt - now) / 1000)),
        `New documents (not validated before) exceed the limit of ${max} per ${this.config.GATEWAY_NEW_DOCUMENTS_WINDOW_SECONDS} s; send the same documents again, with variables`,
        { limit: 'new_documents', max },
      );
    }
    w.count++;
    return undefined;
  }
}

/** How long a copy of a new document waits for the first one at most (see {@link FirstSight}). */
export const FIRST_SIGHT_MAX_WAIT_MS = 250;

export class FirstSight {
  /** Requests leading a document this process had not seen (see {@link firstOfItsDocument}). */
  private readonly leaders = new WeakSet<object>();

  /** Documents validated or refused before (`<sha256>:<operation name>`). */
  private readonly seen: SupergraphScoped<true>;
  /** Documents whose first request is on its way, and what its followers wait for. */
  private readonly pending = new Map<string, { settle: () => void; settled: Promise<void> }>();

  constructor(
    maxEntries: number,
    private readonly metrics: Pick<GatewayMetrics, 'firstSightWaits'>,
    /** The supergraph being served: a change forgets every document (Apollo validates again). */
    supergraph: () => string | undefined,
    /**
     * Longest wait for the first copy; then a copy goes on by itself. The first may sit in its own
     * tenant's fairness queue before Apollo parses it, and another tenant's copy must not wait on that.
     */
    private readonly maxWaitMs = FIRST_SIGHT_MAX_WAIT_MS,
  ) {
    this.seen = new SupergraphScoped(maxEntries, supergraph);
  }

  /** Express handler in front of Apollo (and of the refused-documents answer). */
  handler(): RequestHandler {
    const handle = (req: Request, res: Response, next: NextFunction): void => {
      const key = documentKeyOf(req); // undefined: an APQ look-up by hash alone, or no document
      if (key === undefined || this.seen.current().has(key)) {
        next();
        return;
      }
      const first = this.pending.get(key);
      if (first) {
        this.metrics.firstSightWaits.inc();
        // Handled again once the first is through (from memory then, or first itself), or on its own
        // after maxWaitMs.
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<false>(
          (resolve) => (timer = setTimeout(() => resolve(false), this.maxWaitMs)),
        );
        void Promise.race([first.settled.then(() => true as const), late]).then((through) => {
          clearTimeout(timer);
          if (res.closed) return;
          if (through) handle(req, res, next);
          else next();
        });
        return;
      }
      let settle!: () => void;
      const settled = new Promise<void>((resolve) => (settle = resolve));
      const entry = {
        settled,
        settle: () => {
          if (this.pending.get(key) !== entry) return;
          this.pending.delete(key);
          settle();
        },
      };
      this.pending.set(key, entry);
      this.leaders.add(req);
      res.once('close', entry.settle);
      next();
    };
    return handle;
  }

  /**
   * Apollo has validated the document, or answered a request of it with errors only (from its
   * `didResolveOperation` and `willSendResponse` hooks): the requests waiting on it may go on.
   * @param validated the document passed validation, or a static limit refused it (either is now
   *   answered from memory)
   */
  through(queryHash: string | undefined, operationName: string | null | undefined, validated: boolean): void {
    if (!queryHash) return;
    const key = `${queryHash}:${operationName ?? ''}`;
    if (validated) this.seen.current().set(key, true);
    this.pending.get(key)?.settle();
  }

  /**
   * Whether `req` brings a document this process has not validated or refused before (the first of
   * its copies): what {@link NewDocuments} counts, once the caller is known.
   */
  firstOfItsDocument(req: object): boolean {
    return this.leaders.has(req);
  }
}
