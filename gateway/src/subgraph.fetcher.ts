/**
 * The HTTP client the gateway uses towards subgraphs: one undici `Pool` per subgraph origin, driven
 * through `dispatch` (no fetch Request/Response or stream objects per request), a per-request
 * timeout, and optional sharing of identical in-flight query fetches. Idle sockets must close before
 * the subgraph closes them (see {@link SubgraphFetcherOptions.idleTimeoutMs}).
 */
import type { RemoteGraphQLDataSource } from '@apollo/gateway';
import { Pool, type Dispatcher } from 'undici';

/** The fetcher type RemoteGraphQLDataSource accepts (@apollo/utils.fetcher). */
export type SubgraphFetcher = RemoteGraphQLDataSource['fetcher'];
type FetcherInit = NonNullable<Parameters<SubgraphFetcher>[1]>;
type FetcherResponse = Awaited<ReturnType<SubgraphFetcher>>;

/** Header the data source sets to mark a fetch shareable; removed before the request leaves. */
export const DEDUPE_HEADER = 'x-gateway-dedupe';

interface RawResponse {
  url: string;
  status: number;
  statusText: string;
  headers: [string, string][];
  body: string;
}

/**
 * Headers over a plain Map (names lower-cased once), for subgraph requests and responses: the WHATWG
 * (and node-fetch) Headers classes validate and normalize on every construction, which shows in the
 * gateway's profile for no benefit here (names and values come from the gateway or from Node's parser).
 */
export class LiteHeaders {
  private readonly map = new Map<string, string>();

  constructor(pairs: Iterable<[string, string]> = []) {
    for (const [k, v] of pairs) this.append(k, v);
  }
  append(name: string, value: string): void {
    const key = name.toLowerCase();
    const prev = this.map.get(key);
    this.map.set(key, prev === undefined ? value : `${prev}, ${value}`);
  }
  delete(name: string): void {
    this.map.delete(name.toLowerCase());
  }
  get(name: string): string | null {
    return this.map.get(name.toLowerCase()) ?? null;
  }
  has(name: string): boolean {
    return this.map.has(name.toLowerCase());
  }
  set(name: string, value: string): void {
    this.map.set(name.toLowerCase(), value);
  }
  entries(): IterableIterator<[string, string]> {
    return this.map.entries();
  }
  keys(): IterableIterator<string> {
    return this.map.keys();
  }
  values(): IterableIterator<string> {
    return this.map.values();
  }
  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.map.entries();
  }
}

/** A fully read response; `json()` parses on every call so callers never share objects. */
class BufferedResponse implements FetcherResponse {
  readonly bodyUsed = false;
  readonly redirected = false;
  readonly headers: FetcherResponse['headers'];

  constructor(private readonly raw: RawResponse) {
    this.headers = new LiteHeaders(raw.headers);
  }

  get url(): string {
    return this.raw.url;
  }
  get status(): number {
    return this.raw.status;
  }
  get ok(): boolean {
    return this.raw.status >= 200 && this.raw.status < 300;
  }
  get statusText(): string {
    return this.raw.statusText;
  }
  text(): Promise<string> {
    return Promise.resolve(this.raw.body);
  }
  json(): Promise<unknown> {
    try {
      return Promise.resolve(JSON.parse(this.raw.body) as unknown);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }
  arrayBuffer(): Promise<ArrayBuffer> {
    const buf = Buffer.from(this.raw.body);
    return Promise.resolve(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  }
  clone(): FetcherResponse {
    return new BufferedResponse(this.raw);
  }
}

export interface SubgraphFetcherOptions {
  /**
   * Abort a subgraph request when connecting, the response's headers or the wait between two of its
   * body chunks take longer than this (a silent subgraph, not a slow queue at the gateway).
   */
  timeoutMs: number;
  /** Honour {@link DEDUPE_HEADER}. */
  dedupe: boolean;
  /** Called for each fetch answered by another one in flight. */
  onShared?: () => void;
  /**
   * Close a pooled socket after it has been idle this long, or sooner when the subgraph announces a
   * shorter `Keep-Alive: timeout=` (less one second). It must stay under the subgraphs' own idle
   * timeout (Node's 5 s by default): a request written on a socket the server is closing fails with
   * "other side closed" ("socket hang up" with node:http), an INTERNAL_SERVER_ERROR for the client.
   * @default 4000
   */
  idleTimeoutMs?: number;
  /**
   * Most sockets open to one subgraph origin; requests beyond wait in the pool's queue.
   * @default 256
   */
  connectionsPerOrigin?: number;
}

/** A fetcher plus the means to release its sockets. */
export interface SubgraphHttpClient {
  fetcher: SubgraphFetcher;
  /** Closes every socket; requests still in flight fail. */
  close(): Promise<void>;
}

/** Where a subgraph URL goes: its origin's pool and the request target. */
interface Route {
  pool: Pool;
  path: string;
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/**
 * Creates the subgraph HTTP client; see the module comment.
 *
 * Sharing ("dedupe"): when the data source marks a fetch as shareable (an incoming *query*, never a
 * mutation), a second fetch with the same URL, Authorization and body while the first is in flight
 * waits for the first one's answer instead of sending its own. The answer is kept as text and each
 * waiter gets its own parsed copy, because the gateway mutates the data it merges. Only fetches made
 * with the same verified Authorization header share (same auth scope); the subgraph sees the request
 * id of the first caller only.
 */
export function createSubgraphHttpClient(opts: SubgraphFetcherOptions): SubgraphHttpClient {
  const idleMs = opts.idleTimeoutMs ?? 4_000;
  const poolOptions: Pool.Options = {
    connections: opts.connectionsPerOrigin ?? 256,
    keepAliveTimeout: idleMs,
    keepAliveMaxTimeout: idleMs,
    keepAliveTimeoutThreshold: 1_000,
    connectTimeout: opts.timeoutMs,
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs,
  };
  // TLS when a subgraph URL says https: Node's default trust store (NODE_EXTRA_CA_CERTS included),
  // the name checked against the URL's host, as node:https did.
  const pools = new Map<string, Pool>();
  // A handful of subgraph URLs, resolved once each rather than on every request.
  const routes = new Map<string, Route>();
  const route = (url: string): Route => {
    let found = routes.get(url);
    if (!found) {
      const target = new URL(url);
      let pool = pools.get(target.origin);
      if (!pool) {
        pool = new Pool(target.origin, poolOptions);
        pools.set(target.origin, pool);
      }
      found = { pool, path: `${target.pathname}${target.search}` };
      if (routes.size < 64) routes.set(url, found);
    }
    return found;
  };
  const inFlight = new Map<string, Promise<RawResponse>>();
  const timeoutError = (err: Error): Error =>
    new Error(`subgraph request timed out after ${opts.timeoutMs} ms`, { cause: err });

  const send = (url: string, init: FetcherInit, headers: Record<string, string>): Promise<RawResponse> =>
    new Promise<RawResponse>((resolve, reject) => {
      const { pool, path } = route(url);
      const chunks: Buffer[] = [];
      let status = 0;
      let statusText = '';
      let rawHeaders: Buffer[] = [];
      const handler: Dispatcher.DispatchHandlers = {
        onConnect: () => undefined,
        // Called again after a 1xx answer: the last call is the response's.
        onHeaders: (statusCode, raw, _resume, text) => {
          status = statusCode;
          statusText = text;
          rawHeaders = raw;
          return true;
        },
        onData: (chunk) => {
          chunks.push(chunk);
          return true;
        },
        onComplete: () => {
          const pairs: [string, string][] = [];
          for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
            const name = rawHeaders[i];
            const value = rawHeaders[i + 1];
            if (name && value) pairs.push([name.toString('latin1'), value.toString('latin1')]);
          }
          const body = chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks);
          resolve({ url, status, statusText, headers: pairs, body: body.toString('utf8') });
        },
        onError: (err) => {
          const code = (err as { code?: unknown }).code;
          reject(typeof code === 'string' && TIMEOUT_CODES.has(code) ? timeoutError(err) : err);
        },
      };
      pool.dispatch({ path, method: toMethod(init.method), headers, body: init.body ?? '' }, handler);
    });

  const fetcher = async (url: string, init: FetcherInit = {}): Promise<FetcherResponse> => {
    const { [DEDUPE_HEADER]: shareable, ...headers } = init.headers ?? {};
    if (!opts.dedupe || shareable !== '1' || typeof init.body !== 'string') {
      return new BufferedResponse(await send(url, init, headers));
    }
    const key = `${url}\n${headers['authorization'] ?? ''}\n${init.body}`;
    const pending = inFlight.get(key);
    if (pending) {
      opts.onShared?.();
      return new BufferedResponse(await pending);
    }
    const promise = send(url, init, headers);
    inFlight.set(key, promise);
    try {
      return new BufferedResponse(await promise);
    } finally {
      inFlight.delete(key);
    }
  };

  return {
    fetcher,
    async close() {
      const all = [...pools.values()];
      pools.clear();
      routes.clear();
      await Promise.all(all.map((p) => p.destroy()));
    },
  };
}

const METHODS = new Set<string>(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);

/** The fetch init's method as undici types it (the data source only ever sends POST). */
function toMethod(method: string | undefined): Dispatcher.HttpMethod {
  const upper = (method ?? 'POST').toUpperCase();
  if (!METHODS.has(upper)) throw new Error(`unsupported subgraph request method ${upper}`);
  return upper as Dispatcher.HttpMethod;
}
