/**
 * GraphiQL in headless Chromium (Debian's `chromium`, driven by playwright-core) against the gateway:
 * the page and every asset come from the gateway itself (any other request is blocked and recorded,
 * and none may be attempted), the strict CSP raises no violation, a typed query runs, the
 * Authorization header from the headers editor reaches the subgraph, a subscription runs over
 * graphql-ws with its results appearing one after another, and the docs explorer shows the schema's
 * types.
 */
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { launchLoopbackBrowser, type LoopbackBrowser } from '../../test/support/chromium.js';
import { createTestEnv, type TestEnv } from '../../test/support/env.js';
import { createGateway, type GatewayService } from '../src/gateway.js';
import { editorText, HEADERS_EDITOR, setEditorText } from './support/graphiql-page.js';
import {
  composeSupergraph,
  echoTypeDefs,
  startAuthFixtures,
  startEchoSubgraph,
  type AuthFixtures,
  type EchoSubgraph,
} from './support/harness.js';

const TICKS_TYPE_DEFS = `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
type Query { lastPrice(symbol: ID!): String }
type PriceTick { symbol: ID!  price: String! }
type Subscription { priceUpdated(symbols: [ID!]!): PriceTick! }
`;

/** A subgraph with a `priceUpdated` subscription over graphql-ws on /graphql (a new price every 100 ms). */
interface TicksSubgraph {
  url: string;
  /** `authorization` of every graphql-ws connection_init received. */
  connections: unknown[];
  stop(): Promise<void>;
}

async function startTicksSubgraph(): Promise<TicksSubgraph> {
  const connections: unknown[] = [];
  const schema = buildSubgraphSchema({
    typeDefs: parse(TICKS_TYPE_DEFS),
    resolvers: {
      Query: { lastPrice: () => null },
      Subscription: {
        priceUpdated: {
          subscribe: async function* (_p: unknown, args: { symbols: string[] }) {
            for (let n = 1; ; n++) {
              for (const symbol of args.symbols) yield { priceUpdated: { symbol, price: `${100 + n}.00` } };
              await new Promise((r) => setTimeout(r, 100));
            }
          },
        },
      },
    },
  });
  // The gateway only subscribes here (no HTTP query of this subgraph runs in the test).
  const server = http.createServer((_req, res) => {
    res.statusCode = 404;
    res.end();
  });
  const wss = new WebSocketServer({ server, path: '/graphql' });
  const ws = useServer<Record<string, unknown> | undefined>(
    {
      schema,
      onConnect: (ctx) => {
        connections.push(ctx.connectionParams?.['authorization']);
        return true;
      },
    },
    wss,
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`,
    connections,
    async stop() {
      await ws.dispose();
      await new Promise((r) => wss.close(r));
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

let env: TestEnv;
let echo: EchoSubgraph;
let ticks: TicksSubgraph;
let auth: AuthFixtures;
let gateway: GatewayService;
let base: string;
let browser: LoopbackBrowser;
let page: Page;

beforeAll(async () => {
  env = await createTestEnv('gateway_graphiql');
  echo = await startEchoSubgraph();
  ticks = await startTicksSubgraph();
  auth = await startAuthFixtures(env.config);
  const supergraphPath = path.join(env.tmpDir, 'supergraph.graphql');
  await writeFile(
    supergraphPath,
    composeSupergraph([
      { name: 'echo', url: echo.url, typeDefs: echoTypeDefs(true) },
      { name: 'ticks', url: ticks.url, typeDefs: TICKS_TYPE_DEFS },
    ]),
  );
  gateway = createGateway({
    ...env.config,
    SUPERGRAPH_PATH: supergraphPath,
    jwksUrl: auth.jwksUrl,
    sessionsUrl: auth.sessionsUrl,
    introspection: true,
  });
  ({ url: base } = await gateway.start());

  browser = await launchLoopbackBrowser();
  ({ page } = await browser.newPage());
});

afterAll(async () => {
  await browser?.close();
  await gateway?.stop();
  await echo?.stop();
  await ticks?.stop();
  await auth?.stop();
  await env?.cleanup();
});

async function responseContains(text: string): Promise<void> {
  await page.waitForFunction(
    (t) => {
      const el = document.querySelector('.graphiql-response .CodeMirror') as unknown as {
        CodeMirror?: { getValue(): string };
      } | null;
      return el?.CodeMirror?.getValue().includes(t) ?? false;
    },
    text,
    { timeout: 20_000 },
  );
}

describe('GraphiQL', () => {
  it('loads from the gateway alone, at /graphiql and at /graphql for a browser', async () => {
    const res = await page.goto(`${base}/graphql`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toMatch(/script-src 'self'/);
    expect(res?.headers()['content-security-policy']).not.toMatch(/unsafe/);
    await page.goto(`${base}/graphiql`);
    await page.waitForSelector('.graphiql-container', { timeout: 40_000 });
    // The default headers editor content (Authorization: "Bearer ") is offered to the user.
    expect(await editorText(page, HEADERS_EDITOR)).toContain('"Authorization": "Bearer "');
  });

  it('runs a typed query and shows the result', async () => {
    await page.click('.graphiql-query-editor .CodeMirror');
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Backspace');
    // Anonymous operations: GraphiQL updates the operation name it sends after a debounce, so a
    // name typed and run at once could go out stale.
    await page.keyboard.type('{ hello added');
    expect((await editorText(page, '.graphiql-query-editor')).replace(/\s+/g, ' ')).toContain(
      '{ hello added',
    );
    await page.click('.graphiql-execute-button');
    await responseContains('"hello": "world"');
    await responseContains('"added": "new field"');
  });

  it('sends the Authorization header set in the headers editor', async () => {
    const token = await auth.mint();
    await setEditorText(page, HEADERS_EDITOR, JSON.stringify({ Authorization: `Bearer ${token}` }));
    await setEditorText(page, '.graphiql-query-editor', '{ headers }');
    await page.click('.graphiql-execute-button');
    await responseContains('authorization');
    const forwarded = echo.received.at(-1);
    expect(forwarded?.['authorization']).toBe(`Bearer ${token}`);
  });

  it('runs a subscription over graphql-ws and shows its results as they arrive', async () => {
    const token = await auth.mint();
    await setEditorText(page, HEADERS_EDITOR, JSON.stringify({ Authorization: `Bearer ${token}` }));
    await setEditorText(
      page,
      '.graphiql-query-editor',
      'subscription { priceUpdated(symbols: ["AAPL"]) { symbol price } }',
    );
    await page.click('.graphiql-execute-button');
    await responseContains('"symbol": "AAPL"');
    // Results keep arriving: the price shown changes while the subscription runs.
    const price = (text: string): string | undefined => /"price": "([^"]+)"/.exec(text)?.[1];
    const first = price(await editorText(page, '.graphiql-response'));
    expect(first).toMatch(/^\d+\.00$/);
    await page.waitForFunction(
      (seen) => {
        const el = document.querySelector('.graphiql-response .CodeMirror') as unknown as {
          CodeMirror?: { getValue(): string };
        } | null;
        const m = /"price": "([^"]+)"/.exec(el?.CodeMirror?.getValue() ?? '');
        return m !== null && m[1] !== seen;
      },
      first,
      { timeout: 20_000 },
    );
    // The token went in connection_init to the gateway, which verified it and passed it on upstream.
    expect(ticks.connections).toContain(`Bearer ${token}`);
    // The same button stops the subscription.
    await page.click('.graphiql-execute-button');
  });

  it('shows the schema in the docs explorer', async () => {
    await page.click('button[aria-label="Show Documentation Explorer"]');
    await page.waitForSelector('.graphiql-doc-explorer', { timeout: 20_000 });
    await page.click('.graphiql-doc-explorer a.graphiql-doc-explorer-type-name:has-text("Query")');
    await page.waitForSelector('.graphiql-doc-explorer-field-name:has-text("node")', { timeout: 20_000 });
    await page.click('.graphiql-doc-explorer a.graphiql-doc-explorer-type-name:has-text("Node")');
    await page.waitForSelector('.graphiql-doc-explorer-title:has-text("Node")', { timeout: 20_000 });
  });

  it('attempted no request off the machine and raised no CSP violation', () => {
    expect(browser.foreign).toEqual([]);
    expect(browser.consoleErrors.filter((e) => /Content Security Policy|Refused to/i.test(e))).toEqual([]);
    expect(browser.consoleErrors).toEqual([]);
  });
});
