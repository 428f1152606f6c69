import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSigner, type TestSigner } from '../test/support/tokens.js';
import { AccessTokenVerifier } from './auth.js';
import { createResilientJwks } from './jwks.js';

// Auth's JWKS endpoint as verifiers meet it on loopback: answering, answering 503 (HAProxy while no
// auth replica is ready), or gone (connections refused).
let mode: 'ok' | '503' | 'gone' = 'ok';
let fetches = 0;
let server: http.Server;
let url: URL;
let signer: TestSigner;
let other: TestSigner;
const config = { JWT_ISSUER: 'tradesage-test', JWT_AUDIENCE: 'tradesage-test' };

beforeAll(async () => {
  signer = await createTestSigner(config, 'k1');
  // Same kid, another key: a forged token.
  other = await createTestSigner(config, 'k1');
  server = http.createServer((req, res) => {
    fetches++;
    if (mode === 'gone') {
      req.socket.destroy();
      return;
    }
    if (mode === '503') {
      res.writeHead(503, { 'content-type': 'text/html' }).end('<html>No server is available</html>');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [signer.jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`);
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const verifierOf = (jwks = createResilientJwks(url, { cacheMaxAgeMs: 1, retryAfterFailureMs: 0 })) =>
  new AccessTokenVerifier({ ...config, jwksUrl: url.href }, null, jwks);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const INVALID = { code: 'UNAUTHENTICATED', message: 'Invalid access token' };
const RETRYABLE = { code: 'INTERNAL_SERVER_ERROR', details: { retryAfter: 1 } };

describe('createResilientJwks', () => {
  it('keeps verifying with the last keys when a refetch of a stale set fails (jose alone refuses the token)', async () => {
    mode = 'ok';
    const token = await signer.sign();
    const resilient = verifierOf();
    const plain = verifierOf(createRemoteJWKSet(url, { cacheMaxAge: 1 }));
    expect(await resilient.verifyToken(token)).toMatchObject({ role: 'OWNER' });
    expect(await plain.verifyToken(token)).toMatchObject({ role: 'OWNER' });
    try {
      for (const m of ['503', 'gone'] as const) {
        mode = m;
        await pause(5); // both sets are now older than their cacheMaxAge
        const before = fetches;
        expect(await resilient.verifyToken(token)).toMatchObject({ role: 'OWNER' });
        expect(fetches).toBeGreaterThan(before); // it did ask, and the answer failed
        // The cause of chaos run 7: a valid token refused because a refetch failed.
        await expect(plain.verifyToken(token)).rejects.toMatchObject(INVALID);
      }
    } finally {
      mode = 'ok';
    }
  });

  it('answers retryably, never "Invalid access token", while it has no keys, then verifies', async () => {
    const token = await signer.sign();
    // The default wiring (what every service uses): auth unreachable at the first verification.
    const cold = new AccessTokenVerifier({ ...config, jwksUrl: url.href }, null);
    mode = '503';
    try {
      await expect(cold.verifyToken(token)).rejects.toMatchObject(RETRYABLE);
    } finally {
      mode = 'ok';
    }
    expect(await cold.verifyToken(token)).toMatchObject({ role: 'OWNER' });
  });

  it('still refuses forged tokens and unknown keys as invalid; an unknown key during an outage is retryable', async () => {
    mode = 'ok';
    const verifier = verifierOf();
    await verifier.verifyToken(await signer.sign());
    await expect(verifier.verifyToken(await other.sign())).rejects.toMatchObject(INVALID);
    const stranger = await createTestSigner(config, 'k-unknown');
    await expect(verifier.verifyToken(await stranger.sign())).rejects.toMatchObject(INVALID);
    mode = '503';
    try {
      await pause(5);
      // Forged with a key the held set has: the signature decides, outage or not.
      await expect(verifier.verifyToken(await other.sign())).rejects.toMatchObject(INVALID);
      // A key the held set lacks may have been rotated in since: not known to be bad.
      await expect(verifier.verifyToken(await stranger.sign())).rejects.toMatchObject(RETRYABLE);
    } finally {
      mode = 'ok';
    }
  });

  it('uses the held keys for at most staleMaxMs after they were last confirmed', async () => {
    mode = 'ok';
    let clock = Date.now();
    const jwks = createResilientJwks(url, {
      cacheMaxAgeMs: 1,
      retryAfterFailureMs: 0,
      staleMaxMs: 60_000,
      now: () => clock,
    });
    const verifier = verifierOf(jwks);
    const token = await signer.sign();
    await verifier.verifyToken(token);
    mode = 'gone';
    try {
      await pause(5);
      clock += 59_000;
      expect(await verifier.verifyToken(token)).toMatchObject({ role: 'OWNER' });
      clock += 2_000;
      await expect(verifier.verifyToken(token)).rejects.toMatchObject(RETRYABLE);
    } finally {
      mode = 'ok';
    }
    expect(await verifier.verifyToken(token)).toMatchObject({ role: 'OWNER' });
  });

  it('asks again at most once per retryAfterFailureMs while fetches fail', async () => {
    mode = 'ok';
    let clock = Date.now();
    const jwks = createResilientJwks(url, { cacheMaxAgeMs: 1, retryAfterFailureMs: 1_000, now: () => clock });
    const verifier = verifierOf(jwks);
    const token = await signer.sign();
    await verifier.verifyToken(token);
    mode = '503';
    try {
      await pause(5);
      const before = fetches;
      for (let i = 0; i < 5; i++) await verifier.verifyToken(token);
      expect(fetches).toBe(before + 1);
      clock += 1_000;
      await verifier.verifyToken(token);
      expect(fetches).toBe(before + 2);
    } finally {
      mode = 'ok';
    }
  });
});
