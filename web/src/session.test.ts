import { describe, expect, it } from 'vitest';
import { SessionStore, type SessionTokens } from './session';

const tokens = (n: number, expiresInMs: number): SessionTokens => ({
  accessToken: `access-${n}`,
  refreshToken: `refresh-${n}`,
  expiresAt: new Date(Date.now() + expiresInMs).toISOString(),
  tenantId: 't1',
});

/** An in-memory Storage. */
function memoryStorage(): Storage {
  const m = new Map<string, string>();
  return {
    get length() {
      return m.size;
    },
    clear: () => m.clear(),
    getItem: (k) => m.get(k) ?? null,
    key: (i) => [...m.keys()][i] ?? null,
    removeItem: (k) => void m.delete(k),
    setItem: (k, v) => void m.set(k, v),
  };
}

describe('SessionStore', () => {
  it('returns the access token while it is far from expiry, without rotating', async () => {
    const s = new SessionStore(memoryStorage());
    let rotations = 0;
    s.setRefresher(() => {
      rotations++;
      return Promise.resolve(tokens(2, 600_000));
    });
    s.set(tokens(1, 600_000));
    expect(await s.accessToken()).toBe('access-1');
    expect(rotations).toBe(0);
  });

  it('rotates a refresh token once however many callers need a fresh access token at once', async () => {
    const s = new SessionStore(memoryStorage());
    const used: string[] = [];
    s.setRefresher(async (refreshToken) => {
      used.push(refreshToken);
      await new Promise((r) => setTimeout(r, 10));
      return tokens(2, 600_000);
    });
    s.set(tokens(1, 5_000));
    const got = await Promise.all([s.accessToken(), s.accessToken(), s.refresh()]);
    expect(got).toEqual(['access-2', 'access-2', 'access-2']);
    expect(used).toEqual(['refresh-1']);
    expect(s.current?.refreshToken).toBe('refresh-2');
  });

  it('signs out when the rotation is refused, and keeps the session across reloads otherwise', async () => {
    const storage = memoryStorage();
    const s = new SessionStore(storage);
    s.set(tokens(1, 600_000));
    expect(new SessionStore(storage).current?.accessToken).toBe('access-1');
    s.setRefresher(() => Promise.reject(new Error('reused refresh token')));
    let changes = 0;
    s.subscribe(() => changes++);
    expect(await s.refresh()).toBeUndefined();
    expect(s.current).toBeUndefined();
    expect(changes).toBe(1);
    expect(new SessionStore(storage).current).toBeUndefined();
  });
});
