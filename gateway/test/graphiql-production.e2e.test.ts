/**
 * GraphiQL in production (introspection off) in headless Chromium, over the committed supergraph:
 * an anonymous visitor gets the sign-in panel, no schema request and no introspection error; the
 * login mutation run from the editor (against a stand-in auth subgraph) gives a token the panel puts
 * into the headers, the schema then loads from /graphiql/schema and the docs explorer lists the
 * supergraph's queries; a refused token is reported as such. Screenshots go to
 * /tmp/graphiql-production-*.png for a look.
 */
import path from 'node:path';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/config.js';
import { launchLoopbackBrowser, type LoopbackBrowser } from '../../test/support/chromium.js';
import { createTestEnv, type TestEnv } from '../../test/support/env.js';
import { createGateway, type GatewayService } from '../src/gateway.js';
import { editorText, HEADERS_EDITOR, setEditorText } from './support/graphiql-page.js';
import { startAuthFixtures, type AuthFixtures } from './support/harness.js';

/** The part of the auth subgraph's schema the login mutation needs. */
const AUTH_TYPE_DEFS = `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
scalar DateTime
input LoginInput { email: String!  password: String!  tenantId: ID }
type AuthPayload { accessToken: String!  expiresAt: DateTime! }
type Query { ping: String }
type Mutation { login(input: LoginInput!): AuthPayload! }
`;

const SIGN_IN_PANEL = 'section[aria-label="Sign in"]';

let env: TestEnv;
let auth: AuthFixtures;
let authSubgraph: ApolloServer;
/** The token the stand-in auth subgraph's login returned. */
let loginToken = '';
let gateway: GatewayService;
let base: string;
let browser: LoopbackBrowser;
let page: Page;
/** Requests the page made to the gateway: path and body. */
const requests: { path: string; body: string; authorization: string | undefined }[] = [];

beforeAll(async () => {
  env = await createTestEnv('gateway_graphiql_prod');
  auth = await startAuthFixtures(env.config);
  authSubgraph = new ApolloServer({
    schema: buildSubgraphSchema({
      typeDefs: parse(AUTH_TYPE_DEFS),
      resolvers: {
        Mutation: {
          login: async () => {
            loginToken = await auth.mint();
            return { accessToken: loginToken, expiresAt: new Date(Date.now() + 900_000).toISOString() };
          },
        },
      },
    }),
    stopOnTerminationSignals: false,
  });
  const { url: authUrl } = await startStandaloneServer(authSubgraph, {
    listen: { port: 0, host: '127.0.0.1' },
  });
  gateway = createGateway(
    {
      ...env.config,
      GATEWAY_PORT: 0,
      SUPERGRAPH_PATH: path.join(PROJECT_ROOT, 'schema', 'supergraph.graphql'),
      NODE_ENV: 'production',
      isProduction: true,
      introspection: false,
      jwksUrl: auth.jwksUrl,
      sessionsUrl: auth.sessionsUrl,
    },
    { subgraphUrls: { auth: authUrl } },
  );
  ({ url: base } = await gateway.start());

  browser = await launchLoopbackBrowser();
  ({ page } = await browser.newPage({ viewport: { width: 1400, height: 850 } }));
  page.on('request', (req) => {
    const url = new URL(req.url());
    if (url.pathname === '/graphql' || url.pathname === '/graphiql/schema') {
      requests.push({
        path: url.pathname,
        body: req.postData() ?? '',
        authorization: req.headers()['authorization'],
      });
    }
  });
});

afterAll(async () => {
  await browser?.close();
  await gateway?.stop();
  await authSubgraph?.stop();
  await auth?.stop();
  await env?.cleanup();
});

async function setHeaders(value: Record<string, string>): Promise<void> {
  await setEditorText(page, HEADERS_EDITOR, JSON.stringify(value, null, 2));
}

async function status(): Promise<string> {
  return (await page.textContent(`${SIGN_IN_PANEL} [role="status"]`)) ?? '';
}

describe('GraphiQL in production', () => {
  it('shows an anonymous visitor how to sign in, with no schema request and no introspection error', async () => {
    await page.goto(`${base}/graphiql`);
    await page.waitForSelector(SIGN_IN_PANEL, { timeout: 40_000 });
    const panel = (await page.textContent(SIGN_IN_PANEL)) ?? '';
    expect(panel).toContain('signed-in users');
    expect(panel).toContain('login');
    expect(panel).toContain('accessToken');
    expect(panel).toContain('Reload schema');
    expect(await status()).toBe('Signed out: no schema loaded.');
    expect(await page.isDisabled(`${SIGN_IN_PANEL} button:has-text("Reload schema")`)).toBe(true);
    await page.screenshot({ path: '/tmp/graphiql-production-anonymous.png' });

    const response = await editorText(page, '.graphiql-response');
    expect(response).not.toMatch(/INTROSPECTION|introspection/);
    expect(response.trim()).toBe('');
    // GraphiQL asked for no schema at all: neither introspection over /graphql nor the document.
    expect(requests).toEqual([]);
  });

  it('puts the login mutation in the editor from the panel', async () => {
    await page.click(`${SIGN_IN_PANEL} button:has-text("Put login in the editor")`);
    expect(await editorText(page, '.graphiql-query-editor')).toMatch(
      /mutation Login \{\s+login\(input: \{ email:/,
    );
  });

  it('runs login, puts its token in the headers from the panel, and the docs explorer lists the queries', async () => {
    await page.click('.graphiql-execute-button');
    await page.waitForSelector(`${SIGN_IN_PANEL} button:has-text("Use the token from the result")`, {
      timeout: 20_000,
    });
    expect(loginToken).not.toBe('');
    await page.screenshot({ path: '/tmp/graphiql-production-login.png' });
    await page.click(`${SIGN_IN_PANEL} button:has-text("Use the token from the result")`);
    expect(JSON.parse(await editorText(page, HEADERS_EDITOR))).toEqual({
      Authorization: `Bearer ${loginToken}`,
    });
    await page.waitForFunction(
      (sel) => document.querySelector(sel)?.textContent?.startsWith('Schema loaded') ?? false,
      `${SIGN_IN_PANEL} [role="status"]`,
      { timeout: 20_000 },
    );
    expect(await page.isDisabled(`${SIGN_IN_PANEL} button:has-text("Reload schema")`)).toBe(false);
    // The button goes once the token is in use.
    expect(await page.$(`${SIGN_IN_PANEL} button:has-text("Use the token from the result")`)).toBeNull();
    expect(requests.map((r) => r.path)).toEqual(['/graphql', '/graphiql/schema']);
    expect(requests[0]?.body).toContain('login');
    expect(requests[0]?.authorization).toBeUndefined();
    expect(requests[1]?.authorization).toBe(`Bearer ${loginToken}`);

    await page.click('button[aria-label="Show Documentation Explorer"]');
    await page.waitForSelector('.graphiql-doc-explorer', { timeout: 20_000 });
    await page.click('.graphiql-doc-explorer a.graphiql-doc-explorer-type-name:has-text("Query")');
    for (const field of ['accounts', 'instruments', 'me']) {
      await page.waitForSelector(`.graphiql-doc-explorer-field-name:text-is("${field}")`, {
        timeout: 20_000,
      });
    }
    await page.screenshot({ path: '/tmp/graphiql-production-docs.png' });
    expect(await editorText(page, '.graphiql-response')).not.toMatch(/introspection/i);
  });

  it('attempted no request off the machine and logged no error', () => {
    expect(browser.foreign).toEqual([]);
    expect(browser.consoleErrors).toEqual([]);
  });

  it('reports a refused token in the result pane when the token changes', async () => {
    // The docs explorer is open from the test before.
    await page.click('button[aria-label="Show Sign in"]');
    await page.waitForSelector(SIGN_IN_PANEL, { timeout: 20_000 });
    await setHeaders({ Authorization: `Bearer ${await auth.mint({}, { key: 'other' })}` });
    await page.waitForFunction(
      () => {
        const el = document.querySelector('.graphiql-response .CodeMirror') as unknown as {
          CodeMirror?: { getValue(): string };
        } | null;
        return el?.CodeMirror?.getValue().includes('UNAUTHENTICATED') ?? false;
      },
      undefined,
      { timeout: 20_000 },
    );
    expect(await status()).toMatch(/could not be loaded/);
    await page.screenshot({ path: '/tmp/graphiql-production-refused.png' });
    expect(requests.at(-1)?.path).toBe('/graphiql/schema');
    // Not once did the page introspect over /graphql.
    expect(requests.filter((r) => r.body.includes('__schema'))).toEqual([]);
  });
});
