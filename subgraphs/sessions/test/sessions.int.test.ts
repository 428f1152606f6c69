/**
 * The sessions service against real Redis: opening, the internal liveness endpoint, sliding expiry,
 * refresh rotation with reuse detection (atomic under concurrency), capped events, revocation
 * published on Redis, and the public fields for the session's owner. Access tokens are signed with
 * the auth service's keys and verified through auth's real JWKS endpoint.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../../lib/auth.js';
import type { Service } from '../../../lib/http.js';
import { channels } from '../../../contracts/redis-names.js';
import { createTestEnv, type TestEnv } from '../../../test/support/env.js';
import { gql } from '../../../test/support/platform.js';
import { createSessionsService } from '../src/service.js';
import { createAuthService } from '../../../test/support/services.js';
import { openAuthKeySigner, type AuthKeySigner } from '../../../test/support/tokens.js';

interface Grant {
  sessionId: string;
  userId: string;
  tenantId: string;
  refreshToken: string;
  expiresAt: string;
}

const GRANT = 'sessionId userId tenantId refreshToken expiresAt';
let env: TestEnv;
let sessionsUrl: string;
let graphqlUrl: string;
let clock = Date.now();
const services: Service[] = [];
let signer: AuthKeySigner;
let redis: Redis;
let subscriber: Redis;
const published: string[] = [];

const internal = <T>(query: string, variables: Record<string, unknown> = {}) =>
  gql<T>(graphqlUrl, query, variables, undefined, { 'x-service-token': env.config.SERVICE_TOKEN });

async function open(
  userId: string = randomUUID(),
  tenantId: string = randomUUID(),
  method = 'password',
): Promise<Grant> {
  const r = await internal<{ openSession: Grant }>(
    `mutation($input: OpenSessionInput!) { openSession(input: $input) { ${GRANT} } }`,
    { input: { userId, tenantId, method, ipAddress: '203.0.113.7', userAgent: 'vitest' } },
  );
  expect(r.errors).toBeUndefined();
  return r.data!.openSession;
}

const rotate = (refreshToken: string) =>
  internal<{ rotateRefreshToken: Grant }>(
    `mutation($t: String!) { rotateRefreshToken(refreshToken: $t, ipAddress: "198.51.100.1") { ${GRANT} } }`,
    { t: refreshToken },
  );

async function liveness(id: string, token: string | null = env.config.SERVICE_TOKEN) {
  const res = await fetch(`${sessionsUrl}/internal/sessions/${id}`, {
    headers: token === null ? {} : { 'x-service-token': token },
  });
  return { status: res.status, body: (await res.json()) as { live?: boolean } };
}

async function tokenFor(g: Grant, role: Role = 'OWNER'): Promise<string> {
  return signer.sign({
    userId: g.userId,
    sessionId: g.sessionId,
    tenantId: g.tenantId,
    role,
    email: 'someone@example.com',
  });
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${sessionsUrl}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) total += Number(line.split(' ').pop());
  }
  return total;
}

async function waitForPublished(id: string): Promise<void> {
  for (let i = 0; i < 100 && !published.some((m) => m.split(',').includes(id)); i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  expect(published.some((m) => m.split(',').includes(id))).toBe(true);
}

beforeAll(async () => {
  env = await createTestEnv('sessions_int', {
    SESSION_EVENTS_MAX: '4',
    SESSION_TOUCH_INTERVAL_SECONDS: '60',
  });
  const sessions = createSessionsService(env.config, { now: () => clock });
  sessionsUrl = (await sessions.start()).url;
  graphqlUrl = `${sessionsUrl}/graphql`;
  services.push(sessions);
  // Auth serves the JWKS the sessions service verifies access tokens against.
  const auth = createAuthService(env.config, { keyReloadMs: 0 });
  await auth.start();
  services.push(auth);
  signer = await openAuthKeySigner(env.config);
  redis = new Redis(env.config.REDIS_URL, { keyPrefix: `${env.config.REDIS_PREFIX}sessions:` });
  // No ready check on a subscriber (see lib/redis.ts: the INFO would fail once SUBSCRIBE was sent).
  subscriber = new Redis(env.config.REDIS_URL, { enableReadyCheck: false });
  subscriber.on('message', (_channel: string, message: string) => published.push(message));
  await subscriber.subscribe(channels.sessionRevoked(env.config.REDIS_PREFIX));
});

afterAll(async () => {
  signer?.close();
  for (const s of services.reverse()) await s.stop();
  redis?.disconnect();
  subscriber?.disconnect();
  await env?.cleanup();
});

describe('internal API', () => {
  it('refuses internal mutations without the service token', async () => {
    const r = await gql(graphqlUrl, 'mutation { endSession(sessionId: "x") }');
    expect(r.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('opens a session and stores only the hash of its refresh token', async () => {
    const g = await open();
    expect(g.refreshToken.startsWith(`${g.sessionId}.`)).toBe(true);
    const stored = await redis.hgetall(`s:{${g.sessionId}}`);
    expect(stored['userId']).toBe(g.userId);
    expect(JSON.stringify(stored)).not.toContain(g.refreshToken.split('.')[1]);
    expect(stored['refreshHash']).toMatch(/^[0-9a-f]{64}$/);
    const ttl = await redis.pttl(`s:{${g.sessionId}}`);
    expect(ttl).toBeGreaterThan((env.config.SESSION_TTL_SECONDS - 60) * 1000);
  });

  it('answers liveness only with the service token: 401 without, 403 wrong, 404 unknown', async () => {
    const g = await open();
    expect(await liveness(g.sessionId)).toEqual({ status: 200, body: { live: true } });
    expect((await liveness(g.sessionId, null)).status).toBe(401);
    expect((await liveness(g.sessionId, 'x'.repeat(64))).status).toBe(403);
    expect((await liveness(randomUUID())).status).toBe(404);
    expect((await liveness('not-a-session')).status).toBe(404);
  });

  it('answers many sessions in one batch, with the same rules', async () => {
    const [a, b, reused] = [await open(), await open(), await open()];
    expect((await rotate(reused.refreshToken)).errors).toBeUndefined();
    expect((await rotate(reused.refreshToken)).errors).toBeDefined(); // reuse: the session is revoked
    const batch = async (body: unknown, token: string | null = env.config.SERVICE_TOKEN) => {
      const res = await fetch(`${sessionsUrl}/internal/sessions/liveness`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token === null ? {} : { 'x-service-token': token }),
        },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as { live?: Record<string, boolean> } };
    };
    const unknown = randomUUID();
    expect(
      await batch({ ids: [a.sessionId, b.sessionId, reused.sessionId, unknown, 'not-a-session'] }),
    ).toEqual({
      status: 200,
      body: {
        live: {
          [a.sessionId]: true,
          [b.sessionId]: true,
          [reused.sessionId]: false,
          [unknown]: false,
          'not-a-session': false,
        },
      },
    });
    expect((await batch({ ids: [a.sessionId] }, null)).status).toBe(401);
    expect((await batch({ ids: [a.sessionId] }, 'x'.repeat(64))).status).toBe(403);
    expect((await batch({ ids: 'not-a-list' })).status).toBe(400);
    expect((await batch({ ids: [1] })).status).toBe(400);
    expect((await batch({ ids: Array.from({ length: 1001 }, () => a.sessionId) })).status).toBe(400);
  });

  it('slides the expiry on use, writing at most once per touch interval', async () => {
    const g = await open();
    const key = `s:{${g.sessionId}}`;
    const before = await redis.hget(key, 'lastActiveAt');
    clock += 30_000;
    await liveness(g.sessionId);
    expect(await redis.hget(key, 'lastActiveAt')).toBe(before);
    clock += 31_000;
    await redis.pexpire(key, 5_000);
    await liveness(g.sessionId);
    expect(Number(await redis.hget(key, 'lastActiveAt'))).toBe(clock);
    expect(Number(await redis.hget(key, 'expiresAt'))).toBe(clock + env.config.SESSION_TTL_SECONDS * 1000);
    expect(await redis.pttl(key)).toBeGreaterThan(5_000);
  });
});

describe('refresh rotation', () => {
  it('rotates: the new token works once, the old one no longer', async () => {
    const g = await open();
    const r1 = await rotate(g.refreshToken);
    expect(r1.errors).toBeUndefined();
    const next = r1.data!.rotateRefreshToken;
    expect(next.sessionId).toBe(g.sessionId);
    expect(next.refreshToken).not.toBe(g.refreshToken);
    const r2 = await rotate(next.refreshToken);
    expect(r2.errors).toBeUndefined();
  });

  it('treats a reused (superseded) token as theft: revokes, publishes, counts', async () => {
    const reuseBefore = await metric('refresh_reuse_detected_total');
    const g = await open();
    const next = (await rotate(g.refreshToken)).data!.rotateRefreshToken;
    const reuse = await rotate(g.refreshToken);
    expect(reuse.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    // The legitimate holder of the newer token is logged out too.
    expect((await rotate(next.refreshToken)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await liveness(g.sessionId)).body.live).toBe(false);
    await waitForPublished(g.sessionId);
    expect(await metric('refresh_reuse_detected_total')).toBe(reuseBefore + 1);
    const events = await redis.lrange(`s:{${g.sessionId}}:ev`, 0, -1);
    expect(JSON.parse(events[0]!)).toMatchObject({ kind: 'reuse_detected', ip: '198.51.100.1' });
  });

  it('lets exactly one of many concurrent refreshes with the same token succeed', async () => {
    const g = await open();
    const results = await Promise.all(Array.from({ length: 8 }, () => rotate(g.refreshToken)));
    const ok = results.filter((r) => r.data?.rotateRefreshToken);
    const refused = results.filter((r) => r.errors?.[0]?.extensions?.code === 'UNAUTHENTICATED');
    expect(ok).toHaveLength(1);
    expect(refused).toHaveLength(7);
  });

  it('refuses unknown and malformed refresh tokens', async () => {
    const g = await open();
    const forged = `${g.sessionId}.${'A'.repeat(43)}`;
    expect((await rotate(forged)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await rotate('garbage')).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    // An unknown token is not reuse: the session survives.
    expect((await liveness(g.sessionId)).body.live).toBe(true);
  });

  it('keeps a capped event list, newest first', async () => {
    let g = await open();
    for (let i = 0; i < 5; i++) g = (await rotate(g.refreshToken)).data!.rotateRefreshToken;
    const events = await redis.lrange(`s:{${g.sessionId}}:ev`, 0, -1);
    expect(events).toHaveLength(4);
    expect(events.map((e) => (JSON.parse(e) as { kind: string }).kind)).toEqual([
      'refreshed',
      'refreshed',
      'refreshed',
      'refreshed',
    ]);
  });

  it('switches tenant and rotates the refresh token', async () => {
    const g = await open();
    const other = randomUUID();
    const r = await internal<{ switchSessionTenant: Grant }>(
      `mutation($s: ID!, $t: ID!) { switchSessionTenant(sessionId: $s, tenantId: $t) { ${GRANT} } }`,
      { s: g.sessionId, t: other },
    );
    expect(r.data?.switchSessionTenant.tenantId).toBe(other);
    expect(await redis.hget(`s:{${g.sessionId}}`, 'tenantId')).toBe(other);
    expect((await rotate(r.data!.switchSessionTenant.refreshToken)).errors).toBeUndefined();
  });
});

describe('public API', () => {
  it('lists the caller’s live sessions and marks the current one', async () => {
    const userId = randomUUID();
    const a = await open(userId);
    const b = await open(userId);
    const c = await open(userId);
    await internal('mutation($s: ID!) { endSession(sessionId: $s) }', { s: c.sessionId });
    const r = await gql<{
      mySessions: { id: string; current: boolean; ipAddress: string; userAgent: string }[];
    }>(
      graphqlUrl,
      '{ mySessions { id current ipAddress userAgent createdAt lastActiveAt expiresAt events { kind at } } }',
      {},
      await tokenFor(a),
    );
    expect(r.errors).toBeUndefined();
    const ids = r.data!.mySessions.map((s) => s.id).sort();
    expect(ids).toEqual([a.sessionId, b.sessionId].sort());
    expect(r.data!.mySessions.find((s) => s.id === a.sessionId)).toMatchObject({
      current: true,
      ipAddress: '203.0.113.7',
      userAgent: 'vitest',
    });
    expect(r.data!.mySessions.find((s) => s.id === b.sessionId)?.current).toBe(false);
  });

  it('revokes one of the caller’s sessions, and answers NOT_FOUND for someone else’s', async () => {
    const mine = await open();
    const second = await open(mine.userId);
    const theirs = await open();
    const token = await tokenFor(mine);
    const other = await gql(
      graphqlUrl,
      'mutation($id: ID!) { revokeSession(id: $id) }',
      { id: theirs.sessionId },
      token,
    );
    expect(other.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await liveness(theirs.sessionId)).body.live).toBe(true);
    const ok = await gql<{ revokeSession: boolean }>(
      graphqlUrl,
      'mutation($id: ID!) { revokeSession(id: $id) }',
      { id: second.sessionId },
      token,
    );
    expect(ok.data?.revokeSession).toBe(true);
    expect((await liveness(second.sessionId)).body.live).toBe(false);
    await waitForPublished(second.sessionId);
    const again = await gql(
      graphqlUrl,
      'mutation($id: ID!) { revokeSession(id: $id) }',
      { id: second.sessionId },
      token,
    );
    expect(again.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('revokes all of the caller’s sessions, the current one included', async () => {
    const a = await open();
    await open(a.userId);
    await open(a.userId);
    const bystander = await open();
    const r = await gql<{ revokeAllSessions: number }>(
      graphqlUrl,
      'mutation { revokeAllSessions }',
      {},
      await tokenFor(a),
    );
    expect(r.data?.revokeAllSessions).toBe(3);
    expect((await liveness(a.sessionId)).body.live).toBe(false);
    expect((await liveness(bystander.sessionId)).body.live).toBe(true);
    // The revoked session's own token is refused from now on.
    const after = await gql(graphqlUrl, '{ mySessions { id } }', {}, await tokenFor(a));
    expect(after.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('shows where a session is used only to its owner when resolved as an entity', async () => {
    const owner = await open();
    const stranger = await open();
    const query =
      'query($r: [_Any!]!) { _entities(representations: $r) { ... on Session { id ipAddress userAgent current events { kind } } } }';
    const representations = [{ __typename: 'Session', id: owner.sessionId }];
    const asOwner = await gql<{ _entities: Record<string, unknown>[] }>(
      graphqlUrl,
      query,
      { r: representations },
      await tokenFor(owner),
    );
    expect(asOwner.data?._entities[0]).toMatchObject({
      id: owner.sessionId,
      ipAddress: '203.0.113.7',
      current: true,
    });
    const asStranger = await gql<{ _entities: Record<string, unknown>[] }>(
      graphqlUrl,
      query,
      { r: representations },
      await tokenFor(stranger),
    );
    expect(asStranger.data?._entities[0]).toEqual({
      id: owner.sessionId,
      ipAddress: null,
      userAgent: null,
      current: false,
      events: [],
    });
  });

  it('requires authentication for mySessions', async () => {
    const r = await gql(graphqlUrl, '{ mySessions { id } }');
    expect(r.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});
