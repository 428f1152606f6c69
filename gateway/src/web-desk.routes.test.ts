import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../lib/config.js';
import { createLogger } from '../../lib/logger.js';
import { freePorts } from '../../test/support/env.js';
import { mountWebDesk, WEB_DESK_CSP, type WebDesk } from './web-desk.routes.js';

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

const page = (url: string): Promise<Response> => fetch(url, { headers: { accept: 'text/html' } });

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tradesage-web-desk-routes-'));
  await mkdir(path.join(dir, 'dist', 'assets'), { recursive: true });
  await writeFile(path.join(dir, 'dist', 'index.html'), '<!doctype html><title>desk</title>');
  await writeFile(path.join(dir, 'dist', 'assets', 'index-abc123.js'), 'console.log(1)');
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
