/**
 * The gateway's upstream graphql-ws sockets. Every upstream subscription is multiplexed over a small
 * pool of client connections per (subgraph, auth scope), so the number of sockets to a subgraph is
 * bounded by the pool size times the scopes in use (one for public market data, one per user with
 * caller-dependent subscriptions), never by the number of distinct documents.
 *
 * A connection presents the token, among its members' subscribers, that lives longest and has not
 * been refused on it; a token the subgraph closed the socket for (4401, 4403) is not presented again.
 */
import { CloseCode, createClient, type Client } from 'graphql-ws';
import type { Gauge } from 'prom-client';
import { WebSocket } from 'ws';

/** A subscriber's token and when it expires (epoch seconds). */
export interface TokenRegistration {
  authorization: string;
  expiresAt: number;
}

/** What shares a connection: an upstream stream, with the tokens of its subscribers. */
export interface UpstreamMember {
  registrations(): Iterable<TokenRegistration>;
}

/** One pooled graphql-ws client connection. */
export class UpstreamConnection<M extends UpstreamMember> {
  readonly members = new Set<M>();
  /** Tokens the subgraph closed this connection for; never presented again on it. */
  readonly refused = new Set<string>();
  /** The token presented on the last (re)connect. */
  presented = '';
  open = false;
  client!: Client;

  constructor(readonly key: string) {}

  /** The member token that lives longest and was not refused here. */
  bestToken(): string | undefined {
    let best: TokenRegistration | undefined;
    for (const m of this.members) {
      for (const r of m.registrations()) {
        if (this.refused.has(r.authorization)) continue;
        if (!best || r.expiresAt > best.expiresAt) best = r;
      }
    }
    return best?.authorization;
  }

  /** Forgets refused tokens no member holds any more (their subscribers left). */
  prune(): void {
    if (this.refused.size === 0) return;
    const held = new Set<string>();
    for (const m of this.members) for (const r of m.registrations()) held.add(r.authorization);
    for (const t of this.refused) if (!held.has(t)) this.refused.delete(t);
  }
}

/** Options of {@link UpstreamPool}. */
export interface UpstreamPoolOptions {
  /** WebSocket URL of a subgraph's graphql-ws endpoint. */
  url: (service: string) => string;
  /** Sockets per (subgraph, auth scope). */
  socketsPerScope: number;
  /**
   * Members a connection carries before another one is opened (while under `socketsPerScope`).
   * @default 100
   */
  membersPerSocket?: number;
  /** Upstream sockets open. */
  sockets: Gauge;
  /** Headers of every upstream WebSocket upgrade (the gateway's ingress credential). @default none */
  headers?: Readonly<Record<string, string>>;
}

/** Pooled upstream graphql-ws connections; see the module comment. */
export class UpstreamPool<M extends UpstreamMember> {
  private readonly byKey = new Map<string, UpstreamConnection<M>[]>();
  private readonly membersPerSocket: number;
  /** `ws` presenting {@link UpstreamPoolOptions.headers} on the upgrade, which subgraphs check. */
  private readonly webSocketImpl: new (address: string, protocols?: string | string[]) => WebSocket;

  constructor(private readonly opts: UpstreamPoolOptions) {
    this.membersPerSocket = opts.membersPerSocket ?? 100;
    const headers = { ...opts.headers };
    this.webSocketImpl = class extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols, { headers });
      }
    };
  }

  /** Connections currently in the pool (open or connecting). */
  get connectionCount(): number {
    let n = 0;
    for (const list of this.byKey.values()) n += list.length;
    return n;
  }

  /**
   * The connection a new member is to subscribe on: the least loaded one of its scope, or a new one.
   * The caller adds the member to its `members`.
   */
  acquire(service: string, scope: string): UpstreamConnection<M> {
    const key = `${service}\n${scope}`;
    const list = this.byKey.get(key) ?? [];
    let conn: UpstreamConnection<M> | undefined;
    for (const c of list) if (!conn || c.members.size < conn.members.size) conn = c;
    if (!conn || (conn.members.size >= this.membersPerSocket && list.length < this.opts.socketsPerScope)) {
      conn = this.create(key, service);
      list.push(conn);
      this.byKey.set(key, list);
    }
    return conn;
  }

  /** `member` left `conn`; the connection closes with its last member. */
  release(conn: UpstreamConnection<M>, member: M): void {
    conn.members.delete(member);
    if (conn.members.size > 0) {
      conn.prune();
      return;
    }
    const list = this.byKey.get(conn.key);
    const rest = list?.filter((c) => c !== conn) ?? [];
    if (rest.length > 0) this.byKey.set(conn.key, rest);
    else this.byKey.delete(conn.key);
    disposeClient(conn.client);
  }

  /** Closes every connection. */
  stop(): void {
    for (const list of this.byKey.values()) for (const c of list) disposeClient(c.client);
    this.byKey.clear();
  }

  private create(key: string, service: string): UpstreamConnection<M> {
    const conn = new UpstreamConnection<M>(key);
    conn.client = createClient({
      url: this.opts.url(service),
      webSocketImpl: this.webSocketImpl,
      lazy: true,
      retryAttempts: 3,
      // Short waits: subscribers see a gap in events while the upstream reconnects.
      retryWait: (retries) =>
        new Promise((r) => setTimeout(r, Math.min(3000, 200 * 2 ** retries) * (0.5 + Math.random()))),
      connectionParams: () => {
        conn.presented = conn.bestToken() ?? conn.presented;
        return { authorization: conn.presented };
      },
      on: {
        opened: () => {
          if (conn.open) return;
          conn.open = true;
          this.opts.sockets.inc();
        },
        // Refused for its token: graphql-ws retries a 4403 itself, and the executor re-subscribes after
        // a 4401; either way the next connect must present another token.
        closed: (event) => {
          if (conn.open) {
            conn.open = false;
            this.opts.sockets.dec();
          }
          const code = event && typeof event === 'object' && 'code' in event ? event.code : undefined;
          if (code === CloseCode.Unauthorized || code === CloseCode.Forbidden)
            conn.refused.add(conn.presented);
        },
      },
    });
    return conn;
  }
}

/** Disposes a graphql-ws client; a connection attempt still pending rejects its dispose, which is fine here. */
function disposeClient(client: Client): void {
  void Promise.resolve(client.dispose()).catch(() => undefined);
}
