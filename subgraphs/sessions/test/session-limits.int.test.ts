/**
 * Session limits against real Redis, on a clock the test drives: the absolute lifetime (neither
 * refresh nor sliding use extends a session past it) and the cap on live sessions per user.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../../lib/http.js';
import { channels } from '../../../contracts/redis-names.js';
import { createTestEnv, type TestEnv } from '../../../test/support/env.js';
import { gql } from '../../../test/support/platform.js';
import { eventually } from '../../../test/support/wait.js';
import { createSessionsService } from '../src/service.js';

interface Grant {
  sessionId: string;
  userId: string;
  refreshToken: string;
  expiresAt: string;
}

const GRANT = 'sessionId userId refreshToken expiresAt';
const MINUTE = 60_000;
let env: TestEnv;
let service: Service;
let sessionsUrl: string;
let clock = Date.now();
let redis: Redis;
let subscriber: Redis;
const published: string[] = [];

const internal = <T>(query: string, variables: Record<string, unknown> = {}) =>
  gql<T>(`${sessionsUrl}/graphql`, query, variables, undefined, {
    'x-service-token': env.config.SERVICE_TOKEN,
  });

async function open(userId: string = randomUUID()): Promise<Grant> {
  const r = await internal<{ openSession: Grant }>(
    `mutation($input: OpenSessionInput!) { openSession(input: $input) { ${GRANT} } }`,
    { input: { userId, tenantId: randomUUID(), method: 'password' } },
  );
  expect(r.errors).toBeUndefined();
  return r.data!.openSession;
}

const rotate = (refreshToken: string) =>
  internal<{ rotateRefreshToken: Grant }>(
    `mutation($t: String!) { rotateRefreshToken(refreshToken: $t) { ${GRANT} } }`,
    { t: refreshToken },
  );

async function isLive(id: string): Promise<boolean> {
  const res = await fetch(`${sessionsUrl}/internal/sessions/${id}`, {
    headers: { 'x-service-token': env.config.SERVICE_TOKEN },
  });
  return ((await res.json()) as { live?: boolean }).live === true;
}

async function revokedByCap(): Promise<number> {
  const text = await (await fetch(`${sessionsUrl}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('sessions_revoked_total{') && l.includes('session_cap'));
  return line ? Number(line.split(' ').pop()) : 0;
}

beforeAll(async () => {
  env = await createTestEnv('session_limits', {
    SESSION_TTL_SECONDS: '3600',
    SESSION_ABSOLUTE_TTL_SECONDS: '7200',
    SESSIONS_MAX_PER_USER: '3',
    SESSION_TOUCH_INTERVAL_SECONDS: '60',
  });
  service = createSessionsService(env.config, { now: () => clock });
  sessionsUrl = (await service.start()).url;
  redis = new Redis(env.config.REDIS_URL, { keyPrefix: `${env.config.REDIS_PREFIX}sessions:` });
  subscriber = new Redis(env.config.REDIS_URL, { enableReadyCheck: false });
  subscriber.on('message', (_channel: string, message: string) => published.push(message));
  await subscriber.subscribe(channels.sessionRevoked(env.config.REDIS_PREFIX));
});

afterAll(async () => {
  await service?.stop();
  redis?.disconnect();
  subscriber?.disconnect();
  await env?.cleanup();
});

describe('absolute session lifetime', () => {
  it('never lets refresh or use extend a session past createdAt + SESSION_ABSOLUTE_TTL_SECONDS', async () => {
    const opened = clock;
    const hardEnd = opened + 120 * MINUTE;
    const g = await open();
    expect(Date.parse(g.expiresAt)).toBe(opened + 60 * MINUTE);

    clock = opened + 50 * MINUTE;
    const first = await rotate(g.refreshToken);
    expect(first.errors).toBeUndefined();
    expect(Date.parse(first.data!.rotateRefreshToken.expiresAt)).toBe(clock + 60 * MINUTE);

    clock = opened + 100 * MINUTE;
    const second = await rotate(first.data!.rotateRefreshToken.refreshToken);
    expect(second.errors).toBeUndefined();
    expect(Date.parse(second.data!.rotateRefreshToken.expiresAt)).toBe(hardEnd);
    // The keys themselves go at the hard end, not an hour from now.
    expect(await redis.pttl(`s:{${g.sessionId}}`)).toBeLessThanOrEqual(20 * MINUTE);

    clock = opened + 110 * MINUTE;
    expect(await isLive(g.sessionId)).toBe(true);
    expect(Number(await redis.hget(`s:{${g.sessionId}}`, 'expiresAt'))).toBe(hardEnd);

    clock = hardEnd;
    expect(await isLive(g.sessionId)).toBe(false);
    const late = await rotate(second.data!.rotateRefreshToken.refreshToken);
    expect(late.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('sessions per user', () => {
  it('revokes the least recently active session when one more is opened, and publishes it', async () => {
    const before = await revokedByCap();
    const userId = randomUUID();
    const a = await open(userId);
    clock += 1000;
    const b = await open(userId);
    clock += 1000;
    const c = await open(userId);
    // `a` is used after the others were opened, so `b` is now the least recently active.
    clock += 2 * MINUTE;
    expect(await isLive(a.sessionId)).toBe(true);

    const d = await open(userId);
    expect(await isLive(b.sessionId)).toBe(false);
    for (const g of [a, c, d]) expect(await isLive(g.sessionId)).toBe(true);
    await eventually(
      () => (published.some((m) => m.split(',').includes(b.sessionId)) ? true : undefined),
      'the revocation of the evicted session to be published',
    );
    expect(await revokedByCap()).toBe(before + 1);

    // However many more are opened, the user keeps the cap's number of live sessions.
    const more = [];
    for (let i = 0; i < 4; i++) {
      clock += 1000;
      more.push(await open(userId));
    }
    const all = [a, b, c, d, ...more];
    const live = [];
    for (const g of all) if (await isLive(g.sessionId)) live.push(g.sessionId);
    expect(live).toHaveLength(3);
    expect(live).toContain(more[3]!.sessionId);
  });

  it('does not count other users’ sessions', async () => {
    const mine = await open();
    for (let i = 0; i < 4; i++) await open();
    expect(await isLive(mine.sessionId)).toBe(true);
  });
});
