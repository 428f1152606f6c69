/**
 * Express routes of GraphiQL: the page at `/graphiql` (and at `GET /graphql` for a browser, i.e. when
 * the request prefers text/html), its assets under `/graphiql/assets/`, and the schema document at
 * `/graphiql/schema` (graphiql.schema.ts). Assets are read once, kept in memory with an ETag and a
 * gzip copy.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { Express, Request, RequestHandler, Response } from 'express';
import type { Logger } from '../../../lib/logger.js';
import {
  ASSETS_PATH,
  GRAPHIQL_ASSETS,
  GRAPHIQL_CSP,
  graphiqlHtml,
  type SchemaAccess,
} from './graphiql.page.js';
import { SCHEMA_PATH } from './graphiql.schema.js';

const gzipAsync = promisify(gzip);

interface LoadedAsset {
  body: Buffer;
  gzip: Buffer;
  etag: string;
  type: string;
}

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': GRAPHIQL_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** True when a GET to the GraphQL endpoint comes from a browser navigating to it. */
export function prefersHtml(req: Request): boolean {
  return (
    req.method === 'GET' &&
    req.accepts(['application/graphql-response+json', 'application/json', 'text/html']) === 'text/html'
  );
}

/** Sends the GraphiQL page with its security headers. */
export function sendGraphiqlPage(res: Response, schemaAccess: SchemaAccess): void {
  res.set(SECURITY_HEADERS);
  res.set('cache-control', 'no-cache');
  res.type('html').send(graphiqlHtml(schemaAccess));
}

/** How the GraphiQL routes reach the rest of the gateway. */
export interface GraphiqlOptions {
  logger: Logger;
  schemaAccess: SchemaAccess;
  /** Answers {@link SCHEMA_PATH} (the gateway builds it at start; it may answer 503 before). */
  schema: RequestHandler;
}

/** Mounts `/graphiql`, `/graphiql/assets/:name` and `/graphiql/schema`. */
export function mountGraphiql(app: Express, { logger, schemaAccess, schema }: GraphiqlOptions): void {
  const cache = new Map<string, Promise<LoadedAsset>>();

  const load = (name: string): Promise<LoadedAsset> | undefined => {
    const spec = Object.hasOwn(GRAPHIQL_ASSETS, name) ? GRAPHIQL_ASSETS[name] : undefined;
    if (!spec) return undefined;
    let loaded = cache.get(name);
    if (!loaded) {
      loaded = ('file' in spec ? readFile(spec.file) : Promise.resolve(Buffer.from(spec.text))).then(
        async (body) => ({
          body,
          // Off the event loop: graphiql.min.js is 3.5 MB.
          gzip: await gzipAsync(body),
          etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
          type: spec.type,
        }),
      );
      // A failed read (package missing) is retried on the next request rather than cached.
      loaded.catch(() => cache.delete(name));
      cache.set(name, loaded);
    }
    return loaded;
  };

  app.get('/graphiql', (_req, res) => sendGraphiqlPage(res, schemaAccess));
  app.get(SCHEMA_PATH, schema);
  app.get(`${ASSETS_PATH}/:name`, async (req, res) => {
    const pending = load(req.params['name'] ?? '');
    if (!pending) {
      res.status(404).type('text').send('Not found');
      return;
    }
    let asset: LoadedAsset;
    try {
      asset = await pending;
    } catch (err) {
      logger.error({ err, asset: req.params['name'] }, 'GraphiQL asset unavailable');
      res.status(500).type('text').send('Asset unavailable');
      return;
    }
    res.set(SECURITY_HEADERS);
    res.set({ etag: asset.etag, 'cache-control': 'public, max-age=3600', vary: 'accept-encoding' });
    res.type(asset.type);
    if (req.headers['if-none-match'] === asset.etag) {
      res.status(304).end();
      return;
    }
    if (req.acceptsEncodings(['gzip', 'identity']) === 'gzip') {
      res.set('content-encoding', 'gzip').send(asset.gzip);
      return;
    }
    res.send(asset.body);
  });
}
