/**
 * The HTTP client the gateway uses towards subgraphs: node's http module with a keep-alive agent
 * (the library's default, make-fetch-happen, costs noticeably more per request), a per-request
 * timeout, and optional sharing of identical in-flight query fetches.
 */
import http from 'node:http';
import https from 'node:https';
import type { RemoteGraphQLDataSource } from '@apollo/gateway';

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
  /** Abort a subgraph request after this long. */
  timeoutMs: number;
  /** Honour {@link DEDUPE_HEADER}. */
  dedupe: boolean;
  /** Called for each fetch answered by another one in flight. */
  onShared?: () => void;
}

/** A fetcher plus the means to release its sockets. */
export interface SubgraphHttpClient {
  fetcher: SubgraphFetcher;
  close(): void;
}

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
  // Idle sockets are closed after 4 s, before the subgraphs' 5 s keep-alive (Node's default) closes
  // them: a request written on a socket the server is closing fails with "socket hang up", which
  // reached clients as INTERNAL_SERVER_ERROR after idle gaps under load. Node 20's agent leaves free
  // sockets open indefinitely without this option.
  const agentOptions = { keepAlive: true, maxSockets: 256, maxFreeSockets: 64, timeout: 4_000 };
  const agents = {
    'http:': new http.Agent(agentOptions),
    'https:': new https.Agent(agentOptions),
  };
  const inFlight = new Map<string, Promise<RawResponse>>();
  // A handful of subgraph URLs, parsed once each rather than on every request.
  const parsedUrls = new Map<string, URL>();
  const parseUrl = (url: string): URL => {
    let parsed = parsedUrls.get(url);
    if (!parsed) {
      parsed = new URL(url);
      if (parsedUrls.size < 64) parsedUrls.set(url, parsed);
    }
    return parsed;
  };

  const send = (url: string, init: FetcherInit, headers: Record<string, string>): Promise<RawResponse> =>
    new Promise<RawResponse>((resolve, reject) => {
      const target = parseUrl(url);
      const client = target.protocol === 'https:' ? https : http;
      const body = init.body ?? '';
      const req = client.request(
        target,
        {
          method: init.method ?? 'POST',
          headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
          agent: target.protocol === 'https:' ? agents['https:'] : agents['http:'],
          timeout: opts.timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const pairs: [string, string][] = [];
            const raw = res.rawHeaders;
            for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([raw[i] ?? '', raw[i + 1] ?? '']);
            resolve({
              url,
              status: res.statusCode ?? 0,
              statusText: res.statusMessage ?? '',
              headers: pairs,
              body: Buffer.concat(chunks).toString('utf8'),
            });
          });
        },
      );
      req.on('timeout', () =>
        req.destroy(new Error(`subgraph request timed out after ${opts.timeoutMs} ms`)),
      );
      req.on('error', reject);
      req.end(body);
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
    close() {
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  };
}
