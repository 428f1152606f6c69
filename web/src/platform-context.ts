// React access to the shared Platform (client, session, socket state).
import { createContext, useContext, useEffect, useState, useSyncExternalStore } from 'react';
import type { ConnectionState, Platform } from './apollo';
import type { SessionTokens } from './session';

export const PlatformContext = createContext<Platform | undefined>(undefined);

/** The Platform of the nearest provider. */
export function usePlatform(): Platform {
  const p = useContext(PlatformContext);
  if (!p) throw new Error('usePlatform outside PlatformContext');
  return p;
}

/** The session's tokens, re-rendering on sign in, refresh, switch and sign out. */
export function useSession(): SessionTokens | undefined {
  const { session } = usePlatform();
  return useSyncExternalStore(
    (l) => session.subscribe(l),
    () => session.current,
  );
}

/** The graphql-ws connection state. */
export function useConnection(): ConnectionState {
  const { connection } = usePlatform();
  return useSyncExternalStore(connection.subscribe, connection.get);
}

/** The location hash route (`#/orders` -> `/orders`). */
export function useRoute(): string {
  const read = (): string => location.hash.replace(/^#/, '') || '/';
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = (): void => setRoute(read());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}
