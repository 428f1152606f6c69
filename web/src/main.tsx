import { ApolloProvider } from '@apollo/client/react';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createPlatform } from './apollo';
import { App } from './app';
import { prefetchDesk } from './boot';
import { bootMark } from './boot-timing';
import { PlatformContext } from './platform-context';
import './styles.css';

bootMark('boot');
const platform = createPlatform();
// The start-up queries go out before React renders anything, not after the first render's effects.
prefetchDesk(platform);
const root = document.getElementById('root');
if (root) {
  bootMark('mount');
  createRoot(root).render(
    <StrictMode>
      <PlatformContext.Provider value={platform}>
        <ApolloProvider client={platform.client}>
          <App />
        </ApolloProvider>
      </PlatformContext.Provider>
    </StrictMode>,
  );
}
