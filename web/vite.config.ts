import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The web desk: built to web/dist and served by the gateway at / (gateway/src/web-desk.routes.ts);
// in development the gateway runs this config's dev server in middleware mode. Everything is bundled
// locally (no CDN, no remote fonts); lightweight-charts goes in its own chunk, loaded by chart screens.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react()],
  // Dependency pre-bundling cache of the dev server: in the checkout's data/, not in node_modules.
  cacheDir: fileURLToPath(new URL('../data/vite', import.meta.url)),
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    target: 'es2022',
    modulePreload: { polyfill: false },
  },
});
