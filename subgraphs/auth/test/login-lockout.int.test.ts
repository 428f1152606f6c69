/**
 * Login abuse with the real auth, sessions and tenants services, Postgres and Redis: nobody can lock
 * a victim out (the lock is per account and source address), sources that failed on an account are
 * slowed account-wide, a concurrent burst cannot pass the limits, and `register` answers an existing
 * address after the same argon2 work with one generic refusal. The work is counted, never timed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../../../test/support/env.js';
import { REGISTRATION_REFUSED } from '../src/auth.service.js';
import { PasswordHasher } from '../src/password-hasher.js';
import {
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

/** Counts argon2 work: every hash, and every verification (dummy ones included). */
class CountingHasher extends PasswordHasher {
  hashes = 0;
  verifies = 0;
  override hash(password: string): Promise<string> {
    this.hashes++;
    return super.hash(password);
  }
  override verify(hashed: string, password: string): Promise<boolean> {
    this.verifies++;
    return super.verify(hashed, password);
  }
}

let env: TestEnv;
let identity: Identity;
let hasher: CountingHasher;
let counter = 0;
let ipCounter = 0;

const email = (label: string): string => `${label}.${++counter}.${env.namespace}@example.com`;
/** A new documentation-range address per call. */
const newIp = (): string => `198.51.100.${++ipCounter}`;

async function register(address = email('user')): Promise<Payload> {
  const r = await call<{ register: Payload }>(identity.authUrl, REGISTER, {
    input: { email: address, password: PASSWORD, organizationName: 'Acme' },
  });
  expect(r.errors).toBeUndefined();
  return r.data!.register;
}

const login = (address: string, password: string, ip: string) =>
  call<{ login: Payload }>(identity.authUrl, LOGIN, { input: { email: address, password } }, undefined, {
    'x-forwarded-for': ip,
  });

beforeAll(async () => {
  env = await createTestEnv('auth_lockout', {
    ...FAST_HASHING,
    LOGIN_THROTTLE_WINDOW_SECONDS: '900',
    LOGIN_THROTTLE_PER_ACCOUNT: '3',
    LOGIN_THROTTLE_PER_ACCOUNT_IP: '2',
    LOGIN_THROTTLE_PER_IP: '50',
    LOGIN_DELAY_MAX_SECONDS: '600',
  });
  hasher = new CountingHasher(env.config);
  identity = await startIdentity(env.config, { keyReloadMs: 0, hasher });
});

afterAll(async () => {
  await identity?.stop();
  await env?.cleanup();
});

describe('login lockout', () => {
  it('locks the attacking address, never the owner signing in from their own', async () => {
    const victim = await register();
    const attacker = newIp();
    for (let i = 0; i < 2; i++) {
      expect(codeOf(await login(victim.user.email, `guess-${i}-wrong`, attacker))).toBe('UNAUTHENTICATED');
    }
    const before = hasher.verifies;
    const locked = await login(victim.user.email, PASSWORD, attacker);
    expect(codeOf(locked)).toBe('RATE_LIMITED');
    expect(locked.errors?.[0]?.message).toBe(
      'Too many failed sign-ins to this account from your address: the limit is 2 per 15 minutes',
    );
    expect(locked.errors?.[0]?.extensions?.['retryAfter']).toBeGreaterThan(0);
    expect(hasher.verifies).toBe(before); // refused before any password check

    const owner = await login(victim.user.email, PASSWORD, newIp());
    expect(owner.errors).toBeUndefined();
    expect(owner.data?.login.user.id).toBe(victim.user.id);
  });

  it('slows every address that failed on the account once it has failed often, but not a clean one', async () => {
    const victim = await register();
    const sources = Array.from({ length: 10 }, () => newIp());
    // One failure from each of ten addresses: none is locked, the account's failures pile up
    // (3 allowed, then delays of 1, 2, 4 ... seconds: 128 s after the tenth).
    for (const ip of sources) {
      expect(codeOf(await login(victim.user.email, 'a wrong password', ip))).toBe('UNAUTHENTICATED');
    }
    const before = hasher.verifies;
    const slowed = await login(victim.user.email, PASSWORD, sources[0]!);
    expect(codeOf(slowed)).toBe('RATE_LIMITED');
    expect(slowed.errors?.[0]?.message).toBe(
      'Too many failed sign-ins to this account: after 3 per 15 minutes, retries from addresses that failed wait up to 600 seconds',
    );
    const retryAfter = slowed.errors?.[0]?.extensions?.['retryAfter'];
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(128);
    expect(hasher.verifies).toBe(before);
    expect(
      await metric(identity.authUrl, 'auth_limit_refusals_total', 'limit="login_account_delay"'),
    ).toBeGreaterThanOrEqual(1);

    // An address with no failure on this account is not delayed: the owner gets in.
    const owner = await login(victim.user.email, PASSWORD, newIp());
    expect(owner.errors).toBeUndefined();
  });

  it('lets a concurrent burst from one address check at most the allowed number of passwords', async () => {
    const victim = await register();
    const ip = newIp();
    const before = hasher.verifies;
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => login(victim.user.email, `burst-${i}-wrong`, ip)),
    );
    const codes = results.map(codeOf);
    expect(codes.filter((c) => c === 'UNAUTHENTICATED')).toHaveLength(2);
    expect(codes.filter((c) => c === 'RATE_LIMITED')).toHaveLength(10);
    expect(hasher.verifies - before).toBe(2);
  });

  it('starts the (account, address) pair over after a successful sign-in', async () => {
    const victim = await register();
    const ip = newIp();
    expect(codeOf(await login(victim.user.email, 'typo password', ip))).toBe('UNAUTHENTICATED');
    expect((await login(victim.user.email, PASSWORD, ip)).errors).toBeUndefined();
    expect(codeOf(await login(victim.user.email, 'typo password', ip))).toBe('UNAUTHENTICATED');
    expect(codeOf(await login(victim.user.email, 'typo password', ip))).toBe('UNAUTHENTICATED');
    expect(codeOf(await login(victim.user.email, PASSWORD, ip))).toBe('RATE_LIMITED');
  });
});

describe('register and existing addresses', () => {
  it('does the same argon2 work and answers one generic refusal, whichever account exists', async () => {
    const first = await register();
    const second = await register();
    const hashesBefore = hasher.hashes;
    const fresh = await call<{ register: Payload }>(identity.authUrl, REGISTER, {
      input: { email: email('fresh'), password: PASSWORD, organizationName: 'Acme' },
    });
    expect(fresh.errors).toBeUndefined();
    expect(hasher.hashes - hashesBefore).toBe(1);

    const answers = [];
    for (const address of [first.user.email, second.user.email.toUpperCase()]) {
      const before = hasher.hashes;
      // Status and body; the headers hold the Date, which differs when the two straddle a second.
      const { headers: _headers, ...answer } = await call(identity.authUrl, REGISTER, {
        input: { email: address, password: 'another good password', organizationName: 'Other' },
      });
      answers.push(answer);
      expect(hasher.hashes - before).toBe(1); // hashed before the address was looked at
    }
    expect(answers[0]).toEqual(answers[1]);
    expect(answers[0]?.data ?? null).toBeNull();
    expect(answers[0]?.errors).toEqual([
      expect.objectContaining({ message: REGISTRATION_REFUSED, extensions: { code: 'CONFLICT' } }),
    ]);
    expect(REGISTRATION_REFUSED).not.toMatch(/exist/i);
  });
});
