/**
 * OIDC sign-in (authorization code + PKCE) against a real OpenID provider (`oidc-provider`) started
 * here on a free port, with the real auth, sessions and tenants services. The browser's part is
 * played with fetch: redirects followed by hand, cookies kept, and the provider's login and consent
 * interactions completed programmatically through interactionDetails / interactionFinished.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import { Provider, type AccountClaims } from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, freePorts, type TestEnv } from '../../../test/support/env.js';
import {
  adminQuery,
  call,
  codeOf,
  FAST_HASHING,
  PAYLOAD,
  startIdentity,
  verifyFresh,
  type Identity,
  type Payload,
} from './support.js';

const CLIENT_ID = 'tradesage-test';
const CLIENT_SECRET = randomBytes(24).toString('hex');

let env: TestEnv;
let identity: Identity;
let providerServer: http.Server;
let issuer: string;
let redirectUri: string;
/** Accounts the provider knows; `signInAs` picks the one the next login interaction uses. */
const accounts = new Map<string, Omit<AccountClaims, 'sub'>>();
let signInAs = '';

async function startProvider(port: number): Promise<void> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [redirectUri],
        response_types: ['code'],
        grant_types: ['authorization_code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [{ ...(await exportJWK(privateKey)), kid: 'test-rs256', use: 'sig', alg: 'RS256' }] },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    pkce: { required: () => true },
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      Grant: 3600,
      IdToken: 600,
      Interaction: 600,
      Session: 3600,
    },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    findAccount: (_ctx: unknown, sub: string) => {
      const claims = accounts.get(sub);
      return claims ? { accountId: sub, claims: () => ({ sub, ...claims }) } : undefined;
    },
  });
  const handle = provider.callback();
  providerServer = http.createServer((req, res) => {
    if (!req.url?.startsWith('/interaction/')) {
      handle(req, res);
      return;
    }
    // The provider's login and consent pages, answered without a UI.
    void (async () => {
      const details = await provider.interactionDetails(req, res);
      if (details.prompt.name === 'login') {
        await provider.interactionFinished(
          req,
          res,
          { login: { accountId: signInAs } },
          { mergeWithLastSubmission: false },
        );
        return;
      }
      const grant = new provider.Grant({
        accountId: details.session?.accountId ?? signInAs,
        clientId: String(details.params['client_id']),
      });
      grant.addOIDCScope(String(details.params['scope']));
      const missingClaims = details.prompt.details['missingOIDCClaims'];
      if (Array.isArray(missingClaims)) grant.addOIDCClaims(missingClaims as string[]);
      await provider.interactionFinished(
        req,
        res,
        { consent: { grantId: await grant.save() } },
        { mergeWithLastSubmission: true },
      );
    })().catch((err: unknown) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => providerServer.listen(port, '127.0.0.1', resolve));
}

/** A browser: follows redirects by hand with a cookie jar until it is sent back to auth's redirect URI. */
async function browseToCallback(authorizationUrl: string): Promise<URL> {
  const jar = new Map<string, string>();
  let url = new URL(authorizationUrl);
  for (let hop = 0; hop < 15; hop++) {
    if (url.href.startsWith(redirectUri)) return url;
    const res = await fetch(url, {
      redirect: 'manual',
      headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') },
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair = ''] = c.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(c)) jar.delete(name);
      else jar.set(name, value);
    }
    const location = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || !location) {
      throw new Error(
        `provider answered ${res.status} at ${url.pathname}: ${(await res.text()).slice(0, 300)}`,
      );
    }
    url = new URL(location, url);
  }
  throw new Error('too many redirects');
}

async function startLogin(organizationName?: string): Promise<{ authorizationUrl: string; state: string }> {
  const r = await call<{ startOidcLogin: { authorizationUrl: string; state: string; expiresAt: string } }>(
    identity.authUrl,
    'mutation($input: StartOidcLoginInput) { startOidcLogin(input: $input) { authorizationUrl state expiresAt } }',
    { input: organizationName ? { organizationName } : null },
  );
  expect(r.errors).toBeUndefined();
  return r.data!.startOidcLogin;
}

/** The whole dance for `account`, completed through auth's REST callback. */
async function oidcLogin(
  account: string,
  organizationName?: string,
): Promise<{ status: number; body: unknown }> {
  signInAs = account;
  const { authorizationUrl } = await startLogin(organizationName);
  const callback = await browseToCallback(authorizationUrl);
  const res = await fetch(callback);
  return { status: res.status, body: await res.json() };
}

beforeAll(async () => {
  const [authPort, providerPort] = await freePorts(2);
  issuer = `http://127.0.0.1:${providerPort}`;
  redirectUri = `http://127.0.0.1:${authPort}/oauth/callback`;
  env = await createTestEnv('auth_oidc', {
    ...FAST_HASHING,
    AUTH_PORT: String(authPort),
    OIDC_ISSUER: issuer,
    OIDC_CLIENT_ID: CLIENT_ID,
    OIDC_CLIENT_SECRET: CLIENT_SECRET,
    OIDC_REDIRECT_URI: redirectUri,
    OIDC_ALLOW_INSECURE: 'true',
  });
  await startProvider(providerPort!);
  identity = await startIdentity(env.config, { keyReloadMs: 0 });
});

afterAll(async () => {
  await identity?.stop();
  if (providerServer) {
    providerServer.closeAllConnections();
    await new Promise((r) => providerServer.close(r));
  }
  await env?.cleanup();
});

describe('OIDC sign-in', () => {
  it('lists the configured provider', async () => {
    const r = await call<{ oidcProviders: { id: string; issuer: string }[] }>(
      identity.authUrl,
      '{ oidcProviders { id issuer } }',
    );
    expect(r.data?.oidcProviders).toEqual([{ id: 'oidc', issuer }]);
  });

  it('sends the browser to the provider with PKCE (S256), state and nonce', async () => {
    const { authorizationUrl, state } = await startLogin();
    const url = new URL(authorizationUrl);
    expect(url.origin).toBe(issuer);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('state')).toBe(state);
    expect(url.searchParams.get('nonce')).toBeTruthy();
    expect(url.searchParams.get('redirect_uri')).toBe(redirectUri);
  });

  it('creates a user and an organization for a new verified identity; the tokens work on sessions', async () => {
    accounts.set('carol-sub', {
      email: `Carol.${env.namespace}@Example.com`,
      email_verified: true,
      name: 'Carol',
    });
    const { status, body } = await oidcLogin('carol-sub', 'Carol Trading');
    expect(status).toBe(200);
    const p = body as Payload;
    expect(p.user.email).toBe(`carol.${env.namespace}@example.com`);

    const claims = await verifyFresh(env.config, p.accessToken);
    expect(claims).toMatchObject({
      userId: p.user.id,
      sessionId: p.session.id,
      tenantId: p.tenant.id,
      role: 'OWNER',
    });
    const sessions = await call<{ mySessions: { id: string; current: boolean }[] }>(
      identity.sessionsUrl,
      '{ mySessions { id current } }',
      {},
      p.accessToken,
    );
    expect(sessions.errors).toBeUndefined();
    expect(sessions.data?.mySessions).toEqual([{ id: p.session.id, current: true }]);

    const [user] = await adminQuery<{ password_hash: string | null }>(
      env.config,
      'SELECT password_hash FROM auth.users WHERE id = $1',
      [p.user.id],
    );
    expect(user?.password_hash).toBeNull();
    const [org] = await adminQuery<{ organization_name: string }>(
      env.config,
      'SELECT organization_name FROM tenancy.tenants WHERE id = $1',
      [p.tenant.id],
    );
    expect(org?.organization_name).toBe('Carol Trading');
    const [ident] = await adminQuery<{ issuer: string; user_id: string }>(
      env.config,
      'SELECT issuer, user_id FROM auth.identities WHERE subject = $1',
      ['carol-sub'],
    );
    expect(ident).toEqual({ issuer, user_id: p.user.id });

    // The same identity signs into the same user next time.
    const again = await oidcLogin('carol-sub');
    expect((again.body as Payload).user.id).toBe(p.user.id);
    expect((again.body as Payload).tenant.id).toBe(p.tenant.id);
  });

  it('links a verified identity to the existing user with that email', async () => {
    const address = `dave.${env.namespace}@example.com`;
    const reg = await call<{ register: Payload }>(
      identity.authUrl,
      `mutation($input: RegisterInput!) { register(input: $input) { ${PAYLOAD} } }`,
      { input: { email: address, password: 'a long enough password', organizationName: 'Dave' } },
    );
    expect(reg.errors).toBeUndefined();
    accounts.set('dave-sub', { email: address.toUpperCase(), email_verified: true });
    const { status, body } = await oidcLogin('dave-sub');
    expect(status).toBe(200);
    expect((body as Payload).user.id).toBe(reg.data!.register.user.id);
    expect((body as Payload).tenant.id).toBe(reg.data!.register.tenant.id);
  });

  it('refuses to link or create on an unverified email', async () => {
    const address = `erin.${env.namespace}@example.com`;
    await call(
      identity.authUrl,
      `mutation($input: RegisterInput!) { register(input: $input) { ${PAYLOAD} } }`,
      {
        input: { email: address, password: 'a long enough password', organizationName: 'Erin' },
      },
    );
    accounts.set('mallory-sub', { email: address, email_verified: false });
    const { status, body } = await oidcLogin('mallory-sub');
    expect(status).toBe(403);
    expect(body).toMatchObject({ error: { code: 'FORBIDDEN' } });
    const links = await adminQuery(env.config, 'SELECT 1 FROM auth.identities WHERE subject = $1', [
      'mallory-sub',
    ]);
    expect(links).toHaveLength(0);
  });

  it('completes through the completeOidcLogin mutation too, and each state works only once', async () => {
    accounts.set('frank-sub', { email: `frank.${env.namespace}@example.com`, email_verified: true });
    signInAs = 'frank-sub';
    const { authorizationUrl } = await startLogin();
    const callback = await browseToCallback(authorizationUrl);
    const input = {
      code: callback.searchParams.get('code'),
      state: callback.searchParams.get('state'),
      iss: callback.searchParams.get('iss'),
    };
    const COMPLETE = `mutation($input: CompleteOidcLoginInput!) { completeOidcLogin(input: $input) { ${PAYLOAD} } }`;
    const done = await call<{ completeOidcLogin: Payload }>(identity.authUrl, COMPLETE, { input });
    expect(done.errors).toBeUndefined();
    await verifyFresh(env.config, done.data!.completeOidcLogin.accessToken);

    const replay = await call(identity.authUrl, COMPLETE, { input });
    expect(codeOf(replay)).toBe('UNAUTHENTICATED');
    const replayRest = await fetch(callback);
    expect(replayRest.status).toBe(401);
  });

  it('rejects a callback whose code does not belong to the state', async () => {
    accounts.set('grace-sub', { email: `grace.${env.namespace}@example.com`, email_verified: true });
    signInAs = 'grace-sub';
    const first = await browseToCallback((await startLogin()).authorizationUrl);
    const second = await startLogin();
    // A code obtained for one login presented with another login's state (and PKCE verifier).
    const mixed = new URL(first);
    mixed.searchParams.set('state', second.state);
    const res = await fetch(mixed);
    expect(res.status).toBe(401);
  });
});
