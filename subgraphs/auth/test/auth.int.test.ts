/**
 * Auth end to end with the real sessions and tenants services, Postgres and Redis: registration,
 * password sign-in and its throttling, token verification and rejection, refresh rotation and reuse,
 * logout, tenant switches, the platform-admin flag and the JWKS.
 */
import { generateKeyPairSync } from 'node:crypto';
import { decodeProtectedHeader, SignJWT, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, freePorts, type TestEnv } from '../../../test/support/env.js';
import { loadAuthConfig } from '../src/config.js';
import { SigningKeyStore } from '../src/keys.js';
import { createAuthService } from '../src/service.js';
import { TokenSigner } from '../src/token.service.js';
import {
  adminQuery,
  call,
  codeOf,
  FAST_HASHING,
  metric,
  PAYLOAD,
  REGISTER,
  LOGIN,
  PASSWORD,
  startIdentity,
  verifyFresh,
  type Identity,
  type Payload,
} from './support.js';

const REFRESH = `mutation($t: String!) { refreshToken(refreshToken: $t) { ${PAYLOAD} } }`;
const SWITCH = `mutation($id: ID!) { switchTenant(tenantId: $id) { ${PAYLOAD} } }`;

let env: TestEnv;
let identity: Identity;
let authUrl: string;
let counter = 0;

/** A unique address per call, so tests do not share accounts or throttle counters. */
const email = (label: string): string => `${label}.${++counter}.${env.namespace}@example.com`;

async function register(address = email('user'), organizationName = 'Acme Capital'): Promise<Payload> {
  const r = await call<{ register: Payload }>(authUrl, REGISTER, {
    input: { email: address, password: PASSWORD, organizationName },
  });
  expect(r.errors).toBeUndefined();
  return r.data!.register;
}

const login = (input: Record<string, unknown>, headers: Record<string, string> = {}) =>
  call<{ login: Payload }>(authUrl, LOGIN, { input }, undefined, headers);

const refresh = (token: string) => call<{ refreshToken: Payload }>(authUrl, REFRESH, { t: token });

beforeAll(async () => {
  env = await createTestEnv('auth_int', {
    ...FAST_HASHING,
    LOGIN_THROTTLE_PER_ACCOUNT: '3',
    LOGIN_THROTTLE_PER_ACCOUNT_IP: '3',
    LOGIN_THROTTLE_PER_IP: '6',
    LOGIN_THROTTLE_WINDOW_SECONDS: '600',
  });
  identity = await startIdentity(env.config, { keyReloadMs: 50 });
  authUrl = identity.authUrl;
});

afterAll(async () => {
  await identity?.stop();
  await env?.cleanup();
});

describe('register', () => {
  it('creates the user, an owned tenant and a session, and returns verifiable tokens', async () => {
    const p = await register('  New.Person@Example.COM ');
    expect(p.user.email).toBe('new.person@example.com');
    expect(new Date(p.expiresAt).getTime()).toBeGreaterThan(Date.now());
    expect(p.refreshToken.startsWith(`${p.session.id}.`)).toBe(true);

    const claims = await verifyFresh(env.config, p.accessToken);
    expect(claims).toMatchObject({
      userId: p.user.id,
      sessionId: p.session.id,
      tenantId: p.tenant.id,
      role: 'OWNER',
      platformAdmin: false,
      email: 'new.person@example.com',
    });
    const header = decodeProtectedHeader(p.accessToken);
    expect(header.alg).toBe('EdDSA');
    const jwks = (await (await fetch(`${authUrl}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
    expect(jwks.keys.map((k) => k.kid)).toContain(header.kid);

    const [tenant] = await adminQuery<{ organization_name: string; role: string }>(
      env.config,
      `SELECT t.organization_name, m.role FROM tenancy.tenants t JOIN tenancy.memberships m ON m.tenant_id = t.id
       WHERE t.id = $1 AND m.user_id = $2`,
      [p.tenant.id, p.user.id],
    );
    expect(tenant).toEqual({ organization_name: 'Acme Capital', role: 'OWNER' });
  });

  it('stores an argon2id hash, never the password', async () => {
    const p = await register();
    const [row] = await adminQuery<{ password_hash: string }>(
      env.config,
      'SELECT password_hash FROM auth.users WHERE id = $1',
      [p.user.id],
    );
    expect(row?.password_hash).toMatch(/^\$argon2id\$/);
    expect(row?.password_hash).not.toContain(PASSWORD);
  });

  it('treats emails case-insensitively (and NFKC-normalized) for uniqueness', async () => {
    const address = email('dup');
    await register(address);
    for (const variant of [address.toUpperCase(), ` ${address} `, address.replace('@', '\uFF20')]) {
      const r = await call(authUrl, REGISTER, {
        input: { email: variant, password: PASSWORD, organizationName: 'X' },
      });
      expect(codeOf(r)).toBe('CONFLICT');
    }
  });

  it('rejects bad input with BAD_USER_INPUT and writes nothing', async () => {
    const [{ count: before } = { count: '0' }] = await adminQuery<{ count: string }>(
      env.config,
      'SELECT count(*) FROM auth.users',
    );
    const cases = [
      { email: 'not-an-email', password: PASSWORD, organizationName: 'Org' },
      { email: email('short'), password: 'short', organizationName: 'Org' },
      { email: email('org'), password: PASSWORD, organizationName: '   ' },
      { email: email('org'), password: PASSWORD, organizationName: 'x'.repeat(201) },
    ];
    for (const input of cases) {
      const r = await call(authUrl, REGISTER, { input });
      expect(codeOf(r)).toBe('BAD_USER_INPUT');
    }
    const [{ count: after } = { count: '0' }] = await adminQuery<{ count: string }>(
      env.config,
      'SELECT count(*) FROM auth.users',
    );
    expect(after).toBe(before);
  });

  it('removes the user again when the organization cannot be created', async () => {
    // A second auth instance whose default template does not exist: tenants refuses the organization.
    const [port] = await freePorts(1);
    const config = loadAuthConfig({
      ...Object.fromEntries(
        Object.entries(env.config)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : String(v)]),
      ),
      AUTH_PORT: String(port),
      DEFAULT_TENANT_TEMPLATE: 'no_such_template',
    });
    const broken = createAuthService(config, { keyReloadMs: 0 });
    const { url } = await broken.start();
    try {
      const address = email('undo');
      const r = await call(url, REGISTER, {
        input: { email: address, password: PASSWORD, organizationName: 'Org' },
      });
      expect(codeOf(r)).toBe('BAD_USER_INPUT');
      const rows = await adminQuery(env.config, 'SELECT 1 FROM auth.users WHERE email = $1', [address]);
      expect(rows).toHaveLength(0);
    } finally {
      await broken.stop();
    }
  });

  it('cannot set the platform admin flag through the API', async () => {
    const r = await call(authUrl, REGISTER, {
      input: { email: email('admin'), password: PASSWORD, organizationName: 'Org', platformAdmin: true },
    });
    expect(r.errors).toBeDefined();
    expect(r.data).toBeUndefined();
    const schema = await call<{ __type: { inputFields: { name: string }[] } }>(
      authUrl,
      '{ __type(name: "RegisterInput") { inputFields { name } } }',
    );
    expect(schema.data?.__type.inputFields.map((f) => f.name).sort()).toEqual([
      'email',
      'organizationName',
      'password',
    ]);
    const p = await register();
    expect((await verifyFresh(env.config, p.accessToken)).platformAdmin).toBe(false);
    const [row] = await adminQuery<{ platform_admin: boolean }>(
      env.config,
      'SELECT platform_admin FROM auth.users WHERE id = $1',
      [p.user.id],
    );
    expect(row?.platform_admin).toBe(false);

    // Set by an operator in SQL, the flag shows up in the next token.
    await adminQuery(env.config, 'UPDATE auth.users SET platform_admin = true WHERE id = $1', [p.user.id]);
    const again = await login({ email: p.user.email, password: PASSWORD });
    expect((await verifyFresh(env.config, again.data!.login.accessToken)).platformAdmin).toBe(true);
  });
});

describe('login', () => {
  it('signs in with the right password, whatever the email case', async () => {
    const p = await register();
    const before = await metric(authUrl, 'auth_logins_total', 'method="password"');
    const r = await login({ email: `  ${p.user.email.toUpperCase()}`, password: PASSWORD });
    expect(r.errors).toBeUndefined();
    expect(await metric(authUrl, 'auth_logins_total', 'method="password"')).toBe(before + 1);
    expect(r.data!.login.user.id).toBe(p.user.id);
    expect(r.data!.login.session.id).not.toBe(p.session.id);
    const claims = await verifyFresh(env.config, r.data!.login.accessToken);
    expect(claims).toMatchObject({ tenantId: p.tenant.id, role: 'OWNER' });
  });

  it('answers a wrong password and an unknown email identically, and counts both', async () => {
    const before = await metric(authUrl, 'auth_login_failures_total', 'reason="invalid_credentials"');
    const p = await register();
    const wrong = await login({ email: p.user.email, password: 'wrong password!!' });
    const unknown = await login({ email: email('nobody'), password: PASSWORD });
    expect(wrong.errors).toEqual(unknown.errors);
    expect(wrong.errors?.[0]).toMatchObject({
      message: 'Invalid email or password',
      extensions: { code: 'UNAUTHENTICATED' },
    });
    expect(await metric(authUrl, 'auth_login_failures_total', 'reason="invalid_credentials"')).toBe(
      before + 2,
    );
  });

  it('locks an (account, IP) pair after repeated failures, even for the right password', async () => {
    const throttledBefore = await metric(authUrl, 'auth_login_failures_total', 'reason="throttled"');
    const p = await register();
    for (let i = 0; i < 3; i++) {
      expect(codeOf(await login({ email: p.user.email, password: `wrong-${i}-password` }))).toBe(
        'UNAUTHENTICATED',
      );
    }
    const limited = await login({ email: p.user.email, password: PASSWORD });
    expect(codeOf(limited)).toBe('RATE_LIMITED');
    const retryAfter = limited.errors?.[0]?.extensions?.['retryAfter'];
    expect(typeof retryAfter).toBe('number');
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(600);
    expect(await metric(authUrl, 'auth_login_failures_total', 'reason="throttled"')).toBe(
      throttledBefore + 1,
    );
  });

  it('throttles a client IP across accounts', async () => {
    const p = await register();
    const from = { 'x-forwarded-for': '192.0.2.66' };
    for (let i = 0; i < 6; i++) {
      expect(codeOf(await login({ email: email('spray'), password: PASSWORD }, from))).toBe(
        'UNAUTHENTICATED',
      );
    }
    expect(codeOf(await login({ email: p.user.email, password: PASSWORD }, from))).toBe('RATE_LIMITED');
    // The account itself is fine from elsewhere.
    expect((await login({ email: p.user.email, password: PASSWORD })).errors).toBeUndefined();
  });

  it('signs into a chosen tenant only when the user is a member', async () => {
    const alice = await register();
    const bob = await register();
    const own = await login({ email: alice.user.email, password: PASSWORD, tenantId: alice.tenant.id });
    expect(own.data?.login.tenant.id).toBe(alice.tenant.id);
    const other = await login({ email: alice.user.email, password: PASSWORD, tenantId: bob.tenant.id });
    expect(codeOf(other)).toBe('FORBIDDEN');
  });
});

describe('access tokens', () => {
  let p: Payload;
  let keys: SigningKeyStore;

  beforeAll(async () => {
    p = await register();
    keys = await SigningKeyStore.open(env.config.JWT_KEYS_DIR, 0);
  });

  afterAll(() => keys?.close());

  const claimsOf = (token: string): Record<string, unknown> =>
    JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

  async function expectRejected(token: string): Promise<void> {
    await expect(verifyFresh(env.config, token)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    const me = await call(authUrl, '{ me { id } }', {}, token);
    expect(codeOf(me)).toBe('UNAUTHENTICATED');
  }

  it('accepts a good token on the services', async () => {
    const me = await call<{ me: { id: string; email: string } }>(
      authUrl,
      '{ me { id email } }',
      {},
      p.accessToken,
    );
    expect(me.data?.me).toEqual({ id: p.user.id, email: p.user.email });
    expect((await call<{ me: null }>(authUrl, '{ me { id } }')).data?.me).toBeNull();
  });

  it('rejects an expired token', async () => {
    const past = new TokenSigner(keys, env.config, () => Date.now() - 2 * 3600_000);
    const { accessToken } = await past.sign({
      userId: p.user.id,
      sessionId: p.session.id,
      tenantId: p.tenant.id,
      role: 'OWNER',
      platformAdmin: false,
      email: p.user.email,
    });
    await expectRejected(accessToken);
  });

  it('rejects a tampered token', async () => {
    const [h, , s] = p.accessToken.split('.');
    const forged = Buffer.from(JSON.stringify({ ...claimsOf(p.accessToken), adm: true })).toString(
      'base64url',
    );
    await expectRejected(`${h}.${forged}.${s}`);
  });

  it('rejects a token signed with another key under a published kid', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const { kid } = decodeProtectedHeader(p.accessToken);
    const token = await new SignJWT(claimsOf(p.accessToken))
      .setProtectedHeader({ alg: 'EdDSA', kid: kid! })
      .sign(privateKey);
    await expectRejected(token);
  });

  it('rejects alg none and an HMAC downgrade', async () => {
    const enc = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
    const { kid } = decodeProtectedHeader(p.accessToken);
    await expectRejected(`${enc({ alg: 'none', typ: 'JWT' })}.${enc(claimsOf(p.accessToken))}.`);
    const jwks = (await (await fetch(`${authUrl}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
    const hmac = await new SignJWT(claimsOf(p.accessToken))
      .setProtectedHeader({ alg: 'HS256', kid: kid! })
      .sign(new TextEncoder().encode(JSON.stringify(jwks.keys[0])));
    await expectRejected(hmac);
  });

  it('publishes only public keys, cacheable for five minutes', async () => {
    const res = await fetch(`${authUrl}/.well-known/jwks.json`);
    expect(res.headers.get('cache-control')).toContain('max-age=300');
    const jwks = (await res.json()) as JSONWebKeySet;
    expect(jwks.keys.length).toBeGreaterThan(0);
    for (const k of jwks.keys) {
      expect(k).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
      expect(k).not.toHaveProperty('d');
    }
  });
});

describe('refresh, logout and tenants', () => {
  it('rotates the refresh token; reusing the old one revokes the session', async () => {
    const p = await register();
    const r1 = await refresh(p.refreshToken);
    expect(r1.errors).toBeUndefined();
    const next = r1.data!.refreshToken;
    expect(next.session.id).toBe(p.session.id);
    expect(next.refreshToken).not.toBe(p.refreshToken);
    await verifyFresh(env.config, next.accessToken);

    expect(codeOf(await refresh(p.refreshToken))).toBe('UNAUTHENTICATED');
    // The session is gone: the newest access token fails liveness, the newest refresh token too.
    await expect(verifyFresh(env.config, next.accessToken)).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
    expect(codeOf(await refresh(next.refreshToken))).toBe('UNAUTHENTICATED');
  });

  it('lets exactly one of two concurrent refreshes with the same token succeed', async () => {
    const p = await register();
    const [a, b] = await Promise.all([refresh(p.refreshToken), refresh(p.refreshToken)]);
    const ok = [a, b].filter((r) => r.data?.refreshToken);
    expect(ok).toHaveLength(1);
    expect([a, b].filter((r) => codeOf(r) === 'UNAUTHENTICATED')).toHaveLength(1);
  });

  it('logs out: the session’s tokens stop working', async () => {
    const p = await register();
    expect(codeOf(await call(authUrl, 'mutation { logout }'))).toBe('UNAUTHENTICATED');
    const r = await call<{ logout: boolean }>(authUrl, 'mutation { logout }', {}, p.accessToken);
    expect(r.data?.logout).toBe(true);
    await expect(verifyFresh(env.config, p.accessToken)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(codeOf(await refresh(p.refreshToken))).toBe('UNAUTHENTICATED');
  });

  it('revokes sessions through the sessions service with auth-issued tokens', async () => {
    const p = await register();
    const second = await login({ email: p.user.email, password: PASSWORD });
    const list = await call<{ mySessions: { id: string; current: boolean }[] }>(
      identity.sessionsUrl,
      '{ mySessions { id current } }',
      {},
      p.accessToken,
    );
    expect(list.data?.mySessions.map((s) => s.id).sort()).toEqual(
      [p.session.id, second.data!.login.session.id].sort(),
    );
    const one = await call<{ revokeSession: boolean }>(
      identity.sessionsUrl,
      'mutation($id: ID!) { revokeSession(id: $id) }',
      { id: second.data!.login.session.id },
      p.accessToken,
    );
    expect(one.data?.revokeSession).toBe(true);
    await expect(verifyFresh(env.config, second.data!.login.accessToken)).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
    const all = await call<{ revokeAllSessions: number }>(
      identity.sessionsUrl,
      'mutation { revokeAllSessions }',
      {},
      p.accessToken,
    );
    expect(all.data?.revokeAllSessions).toBe(1);
    await expect(verifyFresh(env.config, p.accessToken)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('switches to a tenant the user belongs to, and refuses one they do not', async () => {
    const alice = await register();
    const bob = await register();
    expect(codeOf(await call(authUrl, SWITCH, { id: bob.tenant.id }, alice.accessToken))).toBe('FORBIDDEN');

    const created = await call<{ provisionTenant: { id: string } }>(
      identity.tenantsUrl,
      'mutation { provisionTenant(input: { organizationName: "Alice Two" }) { id } }',
      {},
      alice.accessToken,
    );
    expect(created.errors).toBeUndefined();
    const [second] = await adminQuery<{ id: string }>(
      env.config,
      `SELECT t.id FROM tenancy.tenants t JOIN tenancy.memberships m ON m.tenant_id = t.id
       WHERE m.user_id = $1 AND t.id <> $2`,
      [alice.user.id, alice.tenant.id],
    );
    const switched = await call<{ switchTenant: Payload }>(
      authUrl,
      SWITCH,
      { id: second!.id },
      alice.accessToken,
    );
    expect(switched.errors).toBeUndefined();
    const s = switched.data!.switchTenant;
    expect(s.session.id).toBe(alice.session.id);
    expect(await verifyFresh(env.config, s.accessToken)).toMatchObject({
      tenantId: second!.id,
      role: 'OWNER',
    });
    // The session carries the new tenant into refreshes.
    const refreshed = await refresh(s.refreshToken);
    expect(await verifyFresh(env.config, refreshed.data!.refreshToken.accessToken)).toMatchObject({
      tenantId: second!.id,
    });
  });

  it('ends the session on refresh when the membership is gone', async () => {
    const p = await register();
    await adminQuery(env.config, 'DELETE FROM tenancy.memberships WHERE user_id = $1', [p.user.id]);
    expect(codeOf(await refresh(p.refreshToken))).toBe('UNAUTHENTICATED');
    await expect(verifyFresh(env.config, p.accessToken)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('resolves the User entity for other subgraphs (email: the user themself, see ingress.int.test.ts)', async () => {
    const p = await register();
    const r = await call<{ _entities: { id: string; email: string; createdAt: string }[] }>(
      authUrl,
      'query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id email createdAt } } }',
      { r: [{ __typename: 'User', id: p.user.id }] },
      p.accessToken,
    );
    expect(r.data?._entities[0]).toEqual({ id: p.user.id, email: p.user.email, createdAt: p.user.createdAt });
  });
});

describe('signing key rotation', () => {
  it('signs with the newest key and still accepts tokens of the previous one', async () => {
    const before = await register();
    const oldKid = decodeProtectedHeader(before.accessToken).kid;
    const store = await SigningKeyStore.open(env.config.JWT_KEYS_DIR, 0);
    const { rotateSigningKey } = await import('../src/keys.js');
    const newKid = await rotateSigningKey(env.config.JWT_KEYS_DIR);
    store.close();
    expect(newKid).not.toBe(oldKid);

    // The running service notices the new key file on its next folder check.
    let kids: string[] = [];
    for (let i = 0; i < 100 && !kids.includes(newKid); i++) {
      await new Promise((r) => setTimeout(r, 20));
      const jwks = (await (await fetch(`${authUrl}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
      kids = jwks.keys.map((k) => k.kid!);
    }
    expect(kids).toEqual(expect.arrayContaining([oldKid, newKid]));

    const after = await login({ email: before.user.email, password: PASSWORD });
    expect(decodeProtectedHeader(after.data!.login.accessToken).kid).toBe(newKid);
    await verifyFresh(env.config, after.data!.login.accessToken);
    await verifyFresh(env.config, before.accessToken);
  });
});
