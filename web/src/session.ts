// The signed-in session: tokens kept in memory, the refresh token also in localStorage so a reload
// stays signed in. The access token is refreshed ahead of its expiry (refreshToken rotates; a reused
// refresh token revokes the session server-side, so a rotation is never run twice at once).

/** What the desk needs of an AuthPayload. */
export interface SessionTokens {
  accessToken: string;
  refreshToken: string;
  expiresAt: string;
  tenantId: string;
}

type Listener = () => void;

const STORAGE_KEY = 'tradesage.session';
/** Refresh this long before the access token expires. */
const REFRESH_AHEAD_MS = 30_000;

/** Holds the tokens and tells subscribers when they change (sign in, refresh, switch, sign out). */
export class SessionStore {
  private tokens: SessionTokens | undefined;
  private readonly listeners = new Set<Listener>();
  private refreshing: Promise<string | undefined> | undefined;
  private refresher: ((refreshToken: string) => Promise<SessionTokens>) | undefined;

  constructor(private readonly storage: Storage | undefined = globalThis.localStorage) {
    try {
      const saved = storage?.getItem(STORAGE_KEY);
      if (saved) this.tokens = JSON.parse(saved) as SessionTokens;
    } catch {
      this.tokens = undefined;
    }
  }

  /** The function that rotates a refresh token (set once the GraphQL client exists). */
  setRefresher(fn: (refreshToken: string) => Promise<SessionTokens>): void {
    this.refresher = fn;
  }

  get current(): SessionTokens | undefined {
    return this.tokens;
  }

  set(tokens: SessionTokens | undefined): void {
    this.tokens = tokens;
    if (tokens) this.storage?.setItem(STORAGE_KEY, JSON.stringify(tokens));
    else this.storage?.removeItem(STORAGE_KEY);
    for (const l of this.listeners) l();
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A valid access token (refreshed first when it is about to expire), or undefined when signed out. */
  async accessToken(): Promise<string | undefined> {
    const t = this.tokens;
    if (!t) return undefined;
    if (Date.parse(t.expiresAt) - Date.now() > REFRESH_AHEAD_MS) return t.accessToken;
    return this.refresh();
  }

  /** Rotates the refresh token once, however many callers ask at the same time. */
  refresh(): Promise<string | undefined> {
    const t = this.tokens;
    if (!t || !this.refresher) return Promise.resolve(undefined);
    this.refreshing ??= this.refresher(t.refreshToken)
      .then(
        (next) => {
          this.set(next);
          return next.accessToken;
        },
        () => {
          this.set(undefined);
          return undefined;
        },
      )
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  /** Milliseconds until the access token should be refreshed (for a timer). */
  msUntilRefresh(): number | undefined {
    const t = this.tokens;
    return t ? Math.max(0, Date.parse(t.expiresAt) - Date.now() - REFRESH_AHEAD_MS) : undefined;
  }
}
