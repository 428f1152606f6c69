import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../lib/config.js';
import { createLogger } from '../../lib/logger.js';
import { freePorts } from '../../test/support/env.js';
import { acceptedEncodings, mountWebDesk, WEB_DESK_CSP, type WebDesk } from './web-desk.routes.js';

const logger = createLogger({ LOG_LEVEL: 'silent' }, 'web-desk-test');

type DeskConfig = Pick<Config, 'NODE_ENV' | 'WEB_DIST_DIR' | 'WEB_DEV_SERVER' | 'WEB_HMR_PORT'>;
const defaults: DeskConfig = { NODE_ENV: 'test', WEB_DIST_DIR: 'web/dist', WEB_HMR_PORT: 24678 };

interface Running {
  base: string;
  desk: WebDesk;
  close(): Promise<void>;
}

/** An Express app with a stand-in `/graphql` route, then the desk, as the gateway mounts them. */
async function serve(overrides: Partial<DeskConfig>): Promise<Running> {
  const app = express();
  app.post('/graphql', (_req, res) => {
    res.json({ data: { ok: true } });
  });
  const desk = mountWebDesk(app, { ...defaults, ...overrides }, logger);
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    desk,
    async close() {
      await desk.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** A GET whose body is left encoded (fetch would decode it). */
function rawGet(
  url: string,
  acceptEncoding: string,
): Promise<{ headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    get(url, { headers: { 'accept-encoding': acceptEncoding } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

const page = (url: string): Promise<Response> => fetch(url, { headers: { accept: 'text/html' } });

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tradesage-web-desk-routes-'));
  await mkdir(path.join(dir, 'dist', 'assets'), { recursive: true });
  await writeFile(path.join(dir, 'dist', 'index.html'), '<!doctype html><title>desk</title>');
  await writeFile(path.join(dir, 'dist', 'assets', 'index-abc123.js'), 'console.log(1)');
  const chunk = 'export const desk = 1;\n'.repeat(200);
  await writeFile(path.join(dir, 'dist', 'assets', 'chunk-def456.js'), chunk);
  await writeFile(path.join(dir, 'dist', 'assets', 'chunk-def456.js.br'), brotliCompressSync(chunk));
  await writeFile(path.join(dir, 'dist', 'assets', 'chunk-def456.js.gz'), gzipSync(chunk));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the web desk routes (built files)', () => {
  let s: Running;
  beforeAll(async () => {
    s = await serve({ WEB_DIST_DIR: path.join(dir, 'dist') });
  });
  afterAll(() => s.close());

  it('serves index.html at / and at any page route, under the CSP, never cached', async () => {
    for (const p of ['/', '/reports', '/instrument/AAPL']) {
      const res = await page(`${s.base}${p}`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('<title>desk</title>');
      expect(res.headers.get('content-security-policy')).toBe(WEB_DESK_CSP);
      expect(res.headers.get('cache-control')).toBe('no-cache');
    }
    expect(WEB_DESK_CSP).not.toMatch(/unsafe|\*/);
  });

  it('serves hashed assets for a year, and a missing asset as 404 (not the page)', async () => {
    const res = await fetch(`${s.base}/assets/index-abc123.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toMatch(/max-age=31536000.*immutable/);
    expect((await fetch(`${s.base}/assets/gone.js`)).status).toBe(404);
  });

  it('sends the precompressed variant the browser accepts, with the type of the original', async () => {
    const url = `${s.base}/assets/chunk-def456.js?v=1`;
    const plain = await fetch(url, { headers: { 'accept-encoding': 'identity' } });
    const type = plain.headers.get('content-type');
    expect(type).toMatch(/javascript/);
    expect(plain.headers.get('content-encoding')).toBeNull();
    const chunk = await plain.text();
    expect(chunk).toContain('export const desk');
    // Through node:http, which leaves the body encoded (fetch decodes it).
    for (const [accept, encoding, decode] of [
      ['gzip, deflate, br, zstd', 'br', brotliDecompressSync],
      ['gzip;q=1, br;q=0', 'gzip', gunzipSync],
    ] as const) {
      const res = await rawGet(url, accept);
      expect(res.headers['content-encoding']).toBe(encoding);
      expect(res.headers['content-type']).toBe(type);
      expect(res.headers['vary']).toMatch(/accept-encoding/i);
      expect(res.headers['cache-control']).toMatch(/max-age=31536000.*immutable/);
      expect(Number(res.headers['content-length'])).toBe(res.body.length);
      expect(decode(res.body).toString()).toBe(chunk);
    }
    // No variant on disk: the file as it is.
    const bare = await rawGet(`${s.base}/assets/index-abc123.js`, 'br, gzip');
    expect(bare.headers['content-encoding']).toBeUndefined();
    expect(bare.body.toString()).toBe('console.log(1)');
  });

  it('reads Accept-Encoding with its weights', () => {
    expect(acceptedEncodings('gzip, deflate, br').map(([e]) => e)).toEqual(['br', 'gzip']);
    expect(acceptedEncodings('br;q=0, gzip;q=0.5').map(([e]) => e)).toEqual(['gzip']);
    expect(acceptedEncodings('*;q=0.1').map(([e]) => e)).toEqual(['br', 'gzip']);
    expect(acceptedEncodings('identity')).toEqual([]);
    expect(acceptedEncodings(undefined)).toEqual([]);
  });

  it('leaves /graphql and non-page requests alone', async () => {
    const gql = await fetch(`${s.base}/graphql`, { method: 'POST' });
    expect(await gql.json()).toEqual({ data: { ok: true } });
    expect((await page(`${s.base}/graphql/anything`)).status).toBe(404);
    const api = await fetch(`${s.base}/reports`, { headers: { accept: 'application/json' } });
    expect(api.status).toBe(404);
  });
});

describe('the web desk routes without a build', () => {
  it('answer 503 with how to build it', async () => {
    const s = await serve({ WEB_DIST_DIR: path.join(dir, 'nowhere') });
    try {
      const res = await page(`${s.base}/`);
      expect(res.status).toBe(503);
      expect(await res.text()).toMatch(/vite build/);
    } finally {
      await s.close();
    }
  });
});

describe('the web desk routes in development', () => {
  it("serve the page through Vite's dev server, with its live-reload client", async () => {
    const [hmr] = await freePorts(1);
    const s = await serve({ WEB_DEV_SERVER: true, ...(hmr ? { WEB_HMR_PORT: hmr } : {}) });
    try {
      const res = await page(`${s.base}/`);
      expect(res.status).toBe(200);
      const html = await res.text();
      expect(html).toContain('/@vite/client');
      expect(html).toContain('/src/main.tsx');
      const main = await fetch(`${s.base}/src/main.tsx`);
      expect(main.status).toBe(200);
      expect(await main.text()).toContain('createRoot');
    } finally {
      await s.close();
    }
  }, 60_000);
});
