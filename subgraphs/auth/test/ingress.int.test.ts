/**
 * Subgraph ingress and the client IP (issue 11, items 2.5 and 2.6) on the real auth, sessions and
 * tenants services and the gateway: GraphQL only for holders of the service credential (403
 * FORBIDDEN otherwise, `_service` and `_entities` included), `User.email` only for the user or a
 * platform admin, and login throttling by the real client IP, whatever `X-Forwarded-For` says.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, type GatewayService } from '../../../gateway/src/gateway.js';
import { INGRESS_HEADER, ingressHeaders } from '../../../lib/ingress.js';
import { createTestEnv, type TestEnv } from '../../../test/support/env.js';
import { gql } from '../../../test/support/platform.js';
import {
  adminQuery,
  call,
  codeOf,
  FAST_HASHING,
  metric,
  REGISTER,
  LOGIN,
  PASSWORD,
  startIdentity,
  type Identity,
  type Payload,
} from './support.js';

const ENTITY_EMAIL = `query($id: ID!) { _entities(representations: [{ __typename: "User", id: $id }]) { ... on User { id email } } }`;
const IP_LIMIT = 10;

let env: TestEnv;
let identity: Identity;
let counter = 0;

const email = (label: string): string => `${label}.${++counter}.${env.namespace}@example.com`;
// Each direct call comes "from" its own address (trusted: the calls carry the credential), so the
// per-IP counters of the throttle tests below start at zero.
const elsewhere = (): Record<string, string> => ({ 'x-forwarded-for': `198.51.100.${++counter % 250}` });

async function register(): Promise<Payload> {
  const r = await call<{ register: Payload }>(
    identity.authUrl,
    REGISTER,
    { input: { email: email('user'), password: PASSWORD, organizationName: 'Ingress Capital' } },
    undefined,
    elsewhere(),
  );
  expect(r.errors).toBeUndefined();
  return r.data!.register;
}

/** A POST without the credential, as anyone who reaches a subgraph's port could send it. */
async function bare(
  baseUrl: string,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: await res.json() };
}

const FORBIDDEN_BODY = {
  errors: [{ message: expect.stringMatching(/Forbidden/) as unknown, extensions: { code: 'FORBIDDEN' } }],
};

beforeAll(async () => {
  env = await createTestEnv('auth_ingress', {
    ...FAST_HASHING,
    LOGIN_THROTTLE_PER_IP: String(IP_LIMIT),
    LOGIN_THROTTLE_PER_ACCOUNT: '1000',
    LOGIN_THROTTLE_WINDOW_SECONDS: '600',
  });
  identity = await startIdentity(env.config);
});

afterAll(async () => {
  await identity?.stop();
  await env?.cleanup();
});

describe('subgraph ingress', () => {
  it('refuses GraphQL without the credential with 403 FORBIDDEN and no schema detail, on every subgraph', async () => {
    const before = await metric(identity.authUrl, 'subgraph_ingress_refusals_total', 'transport="http"');
    for (const base of [identity.authUrl, identity.sessionsUrl, identity.tenantsUrl]) {
      for (const query of ['{ _service { sdl } }', '{ __schema { types { name } } }', '{ me { id } }']) {
        const r = await bare(base, query);
        expect(r.status, `${base} ${query}`).toBe(403);
        expect(r.body).toEqual(FORBIDDEN_BODY);
      }
    }
    expect(await metric(identity.authUrl, 'subgraph_ingress_refusals_total', 'transport="http"')).toBe(
      before + 3,
    );
  });

  it('refuses `_entities`, even for a signed-in user, without the credential', async () => {
    const alice = await register();
    const r = await bare(
      identity.authUrl,
      ENTITY_EMAIL,
      { id: alice.user.id },
      {
        authorization: `Bearer ${alice.accessToken}`,
      },
    );
    expect(r.status).toBe(403);
    expect(JSON.stringify(r.body)).not.toContain(alice.user.email);
  });

  it('refuses a wrong key, the raw token in the ingress header, and a key of another token', async () => {
    const other = ingressHeaders({ SERVICE_TOKEN: 'f'.repeat(32) + '0123456789abcdef0123456789abcdef' });
    for (const headers of [
      { [INGRESS_HEADER]: 'not-the-key' },
      { [INGRESS_HEADER]: env.config.SERVICE_TOKEN },
      other,
      { 'x-service-token': `${env.config.SERVICE_TOKEN}x` },
    ]) {
      expect((await bare(identity.authUrl, '{ _service { sdl } }', {}, headers)).status).toBe(403);
    }
  });

  it('answers the gateway (ingress key) and internal services (service token)', async () => {
    const byKey = await bare(identity.authUrl, '{ _service { sdl } }', {}, ingressHeaders(env.config));
    expect(byKey.status).toBe(200);
    expect(JSON.stringify(byKey.body)).toContain('type User');
    const byToken = await bare(
      identity.tenantsUrl,
      '{ _service { sdl } }',
      {},
      {
        'x-service-token': env.config.SERVICE_TOKEN,
      },
    );
    expect(byToken.status).toBe(200);
  });

  it('keeps /health, /ready, /metrics and the JWKS open', async () => {
    for (const path of ['/health', '/ready', '/metrics', '/.well-known/jwks.json']) {
      expect((await fetch(`${identity.authUrl}${path}`)).status, path).toBe(200);
    }
  });
});

describe('User.email', () => {
  it('resolves through `_entities` for the user themself and a platform admin only', async () => {
    const alice = await register();
    const bob = await register();
    const as = (token: string) =>
      call<{ _entities: ({ id: string; email: string } | null)[] }>(
        identity.authUrl,
        ENTITY_EMAIL,
        { id: alice.user.id },
        token,
      );

    const own = await as(alice.accessToken);
    expect(own.errors).toBeUndefined();
    expect(own.data?._entities).toEqual([{ id: alice.user.id, email: alice.user.email }]);

    const other = await as(bob.accessToken);
    expect(codeOf(other)).toBe('FORBIDDEN');
    expect(JSON.stringify(other)).not.toContain(alice.user.email);

    const anonymous = await call(identity.authUrl, ENTITY_EMAIL, { id: alice.user.id });
    expect(codeOf(anonymous)).toBe('FORBIDDEN');

    await adminQuery(env.config, 'UPDATE auth.users SET platform_admin = true WHERE id = $1', [bob.user.id]);
    const relogin = await call<{ login: Payload }>(
      identity.authUrl,
      LOGIN,
      { input: { email: bob.user.email, password: PASSWORD } },
      undefined,
      elsewhere(),
    );
    expect(relogin.errors).toBeUndefined();
    const admin = await as(relogin.data!.login.accessToken);
    expect(admin.errors).toBeUndefined();
    expect(admin.data?._entities).toEqual([{ id: alice.user.id, email: alice.user.email }]);
  });

  it('still shows the caller their own email in `me` and in the payload of an anonymous login', async () => {
    const alice = await register();
    const me = await call<{ me: { email: string } }>(
      identity.authUrl,
      '{ me { email } }',
      {},
      alice.accessToken,
    );
    expect(me.data?.me.email).toBe(alice.user.email);
    const login = await call<{ login: Payload }>(
      identity.authUrl,
      LOGIN,
      { input: { email: alice.user.email, password: PASSWORD } },
      undefined,
      elsewhere(),
    );
    expect(login.data?.login.user.email).toBe(alice.user.email);
  });
});

describe('client IP', () => {
  const failedLogin = (url: string, i: number, headers: Record<string, string>) =>
    gql<{ login: Payload }>(
      url,
      LOGIN,
      { input: { email: email(`spray${i}`), password: 'wrong password' } },
      undefined,
      headers,
    );
  const rotating = (i: number): Record<string, string> => ({
    'x-forwarded-for': `203.0.113.${(i % 250) + 1}`,
  });

  it('refuses 70 logins with a rotating X-Forwarded-For sent straight to auth before any is counted', async () => {
    const before = await metric(identity.authUrl, 'auth_login_failures_total');
    for (let i = 0; i < 70; i++) {
      const r = await bare(
        identity.authUrl,
        LOGIN,
        { input: { email: email(`direct${i}`), password: 'wrong password' } },
        rotating(i),
      );
      expect(r.status).toBe(403);
    }
    // None reached the resolver: no attempt was recorded, none could spread over 70 "addresses".
    expect(await metric(identity.authUrl, 'auth_login_failures_total')).toBe(before);
  });

  describe('through the gateway', () => {
    let gateway: GatewayService | undefined;

    afterAll(async () => {
      await gateway?.stop();
    });

    it('honours a rotating X-Forwarded-For only from a trusted proxy', async () => {
      // The control: behind a trusted proxy, each attempt counts against its own forwarded address.
      const trusting = createGateway({ ...env.config, GATEWAY_PORT: 0, TRUSTED_PROXIES: ['loopback'] });
      const { url } = await trusting.start();
      try {
        const codes: (string | undefined)[] = [];
        for (let i = 0; i < IP_LIMIT + 5; i++) {
          codes.push((await failedLogin(`${url}/graphql`, i, rotating(i))).errors?.[0]?.extensions?.code);
        }
        expect(codes.every((c) => c === 'UNAUTHENTICATED')).toBe(true);
      } finally {
        await trusting.stop();
      }
    });

    it('throttles 70 failed logins from an untrusted peer, whatever X-Forwarded-For it sends', async () => {
      gateway = createGateway({ ...env.config, GATEWAY_PORT: 0 });
      const { url } = await gateway.start();
      const codes: (string | undefined)[] = [];
      for (let i = 0; i < 70; i++) {
        const r = await failedLogin(`${url}/graphql`, i, rotating(i));
        codes.push(r.errors?.[0]?.extensions?.code);
      }
      // Every attempt counted against the peer's own address (127.0.0.1): the first IP_LIMIT fail on
      // the password, every later one is refused by the throttle before any password is checked.
      expect(codes.slice(0, IP_LIMIT)).toEqual(Array<string>(IP_LIMIT).fill('UNAUTHENTICATED'));
      expect(codes.slice(IP_LIMIT)).toEqual(Array<string>(70 - IP_LIMIT).fill('RATE_LIMITED'));
    });
  });
});
