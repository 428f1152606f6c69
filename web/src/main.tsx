import { ApolloProvider } from '@apollo/client/react';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createPlatform } from './apollo';
import { App } from './app';
import { PlatformContext } from './platform-context';
import './styles.css';

const platform = createPlatform();
const root = document.getElementById('root');
if (root) {
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
