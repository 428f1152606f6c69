import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompress, constants, gzip } from 'node:zlib';
import { promisify } from 'node:util';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

const brotli = promisify(brotliCompress);
const gz = promisify(gzip);

/**
 * Writes `x.br` and `x.gz` beside every hashed script and stylesheet, compressed once at the highest
 * levels, for the gateway to send as they are (gateway/src/web-desk.routes.ts) instead of compressing
 * on every request or not at all.
 */
function precompress(): Plugin {
  return {
    name: 'tradesage-precompress',
    apply: 'build',
    async writeBundle(options, bundle) {
      const dir = options.dir ?? '';
      await Promise.all(
        Object.keys(bundle)
          .filter((f) => f.startsWith('assets/') && /\.(js|css)$/.test(f))
          .map(async (f) => {
            const file = path.join(dir, f);
            const data = await readFile(file);
            const [br, gzipped] = await Promise.all([
              brotli(data, {
                params: {
                  [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
                  [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
                },
              }),
              gz(data, { level: 9 }),
            ]);
            await Promise.all([writeFile(`${file}.br`, br), writeFile(`${file}.gz`, gzipped)]);
          }),
      );
    },
  };
}

// The web desk: built to web/dist and served by the gateway at / (gateway/src/web-desk.routes.ts);
// in development the gateway runs this config's dev server in middleware mode. Everything is bundled
// locally (no CDN, no remote fonts); lightweight-charts goes in its own chunk, loaded by chart screens.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react(), precompress()],
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
