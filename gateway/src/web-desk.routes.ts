/**
 * The web desk (web/) at `/`: the built files of WEB_DIST_DIR under a CSP that allows only this
 * origin, `index.html` for any other page a browser navigates to (the desk routes on the client),
 * hashed assets cached for a year. With WEB_DEV_SERVER (default in development) Vite's dev server
 * runs in middleware mode instead, with live reload; Vite is imported only then. Mounted after
 * `/graphql` and `/graphiql`, so it never shadows them. Hashed assets are sent precompressed when the
 * build wrote a `.br` / `.gz` beside them (web/vite.config.ts) and the browser accepts it.
 */
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import express, { type Express, type RequestHandler } from 'express';
import { PROJECT_ROOT, type Config } from '../../lib/config.js';
import type { Logger } from '../../lib/logger.js';
import type { ViteDevServer } from 'vite';

/**
 * Scripts, styles and connections (HTTP and graphql-ws) to this origin only; charts draw on canvas.
 * React and lightweight-charts set styles through the CSSOM, which CSP does not govern.
 */
export const WEB_DESK_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': WEB_DESK_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

/** What the gateway closes on stop. */
export interface WebDesk {
  close(): Promise<void>;
}

/** A GET or HEAD a browser makes for a page (not an API call, not an asset). */
const isPageRequest: (req: Parameters<RequestHandler>[0]) => boolean = (req) =>
  (req.method === 'GET' || req.method === 'HEAD') &&
  !req.path.startsWith('/graphql') &&
  req.accepts(['text/html', 'application/json']) === 'text/html';

/** Precompressed variants the build writes, best first. */
const ENCODINGS = [
  ['br', '.br'],
  ['gzip', '.gz'],
] as const;

/** The best of {@link ENCODINGS} that an Accept-Encoding header allows (q=0 refuses). */
export function acceptedEncodings(header: string | undefined): (typeof ENCODINGS)[number][] {
  const accepted = new Map<string, number>();
  for (const part of (header ?? '').split(',')) {
    const [name = '', ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
    accepted.set(name.trim(), q === undefined ? 1 : Number(q));
  }
  const wildcard = accepted.get('*') ?? 0;
  return ENCODINGS.filter(([name]) => (accepted.get(name) ?? wildcard) > 0);
}

/**
 * Serves `/assets/x.js` as `x.js.br` (or `.gz`) with Content-Encoding when the build left one and the
 * browser takes it; the type stays that of `x.js`. Caches vary on Accept-Encoding either way.
 */
function precompressed(dir: string): RequestHandler {
  return (req, res, next) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || /%|\.\./.test(req.path)) return next();
    res.vary('Accept-Encoding');
    const candidates = acceptedEncodings(req.get('accept-encoding'));
    const file = path.join(dir, req.path);
    const pick = async (): Promise<void> => {
      for (const [encoding, ext] of candidates) {
        const found = await stat(file + ext).then(
          (s) => s.isFile(),
          () => false,
        );
        if (!found) continue;
        res.type(path.extname(req.path));
        res.set('content-encoding', encoding);
        req.url = req.url.replace(/(\?|$)/, `${ext}$1`);
        return;
      }
    };
    pick().then(() => next(), next);
  };
}

/** How long a stop waits for Vite's dev server to close. */
const DEV_SERVER_CLOSE_MS = 3_000;

/** Mounts the desk on `app`; see the module comment. */
export function mountWebDesk(
  app: Express,
  config: Pick<Config, 'NODE_ENV' | 'WEB_DIST_DIR' | 'WEB_DEV_SERVER' | 'WEB_HMR_PORT'>,
  logger: Logger,
): WebDesk {
  const root = path.join(PROJECT_ROOT, 'web');
  if (config.WEB_DEV_SERVER ?? config.NODE_ENV === 'development') {
    // Started on the first request, not when the gateway is built: no watcher before `start()`.
    let server: Promise<ViteDevServer> | undefined;
    const devServer = (): Promise<ViteDevServer> =>
      (server ??= import('vite').then(({ createServer }) =>
        createServer({
          configFile: path.join(root, 'vite.config.ts'),
          server: { middlewareMode: true, hmr: { port: config.WEB_HMR_PORT } },
          appType: 'spa',
          logLevel: 'warn',
        }),
      ));
    app.use((req, res, next) => {
      devServer().then(
        (vite) => vite.middlewares(req, res, next),
        (err: unknown) => {
          server = undefined; // the next request tries again
          logger.error({ err }, 'web desk dev server failed to start');
          next(err);
        },
      );
    });
    return {
      // Bounded: Vite's close waits for a dependency pre-bundling run in progress, which can outlast a
      // stop; the gateway's shutdown must not wait on a development convenience.
      close: () =>
        server
          ? Promise.race([
              server.then((vite) => vite.close()).catch(() => undefined),
              new Promise<void>((resolve) => setTimeout(resolve, DEV_SERVER_CLOSE_MS).unref()),
            ])
          : Promise.resolve(),
    };
  }

  const dist = path.resolve(PROJECT_ROOT, config.WEB_DIST_DIR);
  const index = path.join(dist, 'index.html');
  const assets = path.join(dist, 'assets');
  app.use('/assets', precompressed(assets));
  app.use(
    '/assets',
    express.static(assets, {
      index: false,
      fallthrough: false,
      immutable: true,
      maxAge: '365d',
      setHeaders: (res) => res.set(SECURITY_HEADERS),
    }),
  );
  app.use(
    express.static(dist, {
      index: false,
      setHeaders: (res) => res.set({ ...SECURITY_HEADERS, 'cache-control': 'no-cache' }),
    }),
  );
  app.use((req, res, next) => {
    if (!isPageRequest(req)) return next();
    res.set(SECURITY_HEADERS);
    if (!existsSync(index)) {
      res
        .status(503)
        .type('text')
        .send(
          'The web desk is not built: run `npx vite build --config web/vite.config.ts` (make prod does).',
        );
      return undefined;
    }
    res.set('cache-control', 'no-cache');
    res.sendFile(index);
    return undefined;
  });
  return { close: () => Promise.resolve() };
}
