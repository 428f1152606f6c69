/**
 * Subgraph ingress: a subgraph's GraphQL (HTTP and graphql-ws) answers only callers that hold the
 * service credential. The gateway presents an ingress key derived from SERVICE_TOKEN with HMAC
 * (`x-subgraph-ingress`), so the raw token never travels on the gateway's requests and an ingress key
 * grants nothing more than ingress: internal fields (`requireService`) still need `x-service-token`,
 * which internal callers (auth -> sessions/tenants) send and which also counts as ingress.
 * Both are compared in constant time over equal-length SHA-256 digests.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Config } from './config.js';
import { ErrorCode } from './errors.js';

/** Header carrying the ingress key on gateway -> subgraph requests and upgrades. */
export const INGRESS_HEADER = 'x-subgraph-ingress';

/** Header carrying the raw service token on internal service-to-service calls. */
export const SERVICE_TOKEN_HEADER = 'x-service-token';

// Versioned, so a change of derivation can never accept keys of the old one by accident.
const INGRESS_KEY_LABEL = 'tradesage/subgraph-ingress/v1';

/** The ingress key of a service token: HMAC-SHA256(SERVICE_TOKEN, label), hex. */
export function ingressKey(serviceToken: string): string {
  return createHmac('sha256', serviceToken).update(INGRESS_KEY_LABEL).digest('hex');
}

/** The headers the gateway (or a test standing in for it) sends on every subgraph request. */
export function ingressHeaders(config: Pick<Config, 'SERVICE_TOKEN'>): Record<string, string> {
  return { [INGRESS_HEADER]: cachedKeys(config.SERVICE_TOKEN).ingressKey };
}

/**
 * True when `presented` equals `expectedDigest`'s preimage: both sides hashed first, so the comparison
 * takes the same time whatever the presented length.
 */
function matches(presented: string | string[] | undefined, expectedDigest: Buffer): boolean {
  if (typeof presented !== 'string' || presented.length === 0) return false;
  return timingSafeEqual(sha256(presented), expectedDigest);
}

/** Constant-time check of the raw service token (`x-service-token`). */
export function hasServiceToken(
  headers: IncomingHttpHeaders,
  config: Pick<Config, 'SERVICE_TOKEN'>,
): boolean {
  return matches(headers[SERVICE_TOKEN_HEADER], cachedKeys(config.SERVICE_TOKEN).tokenDigest);
}

/** True when the request may use a subgraph's GraphQL: the ingress key or the service token. */
export function hasIngressCredential(
  headers: IncomingHttpHeaders,
  config: Pick<Config, 'SERVICE_TOKEN'>,
): boolean {
  const keys = cachedKeys(config.SERVICE_TOKEN);
  // Both checks always run, so the answer takes the same time whichever header was sent.
  const ingress = matches(headers[INGRESS_HEADER], keys.ingressDigest);
  const service = matches(headers[SERVICE_TOKEN_HEADER], keys.tokenDigest);
  return ingress || service;
}

/** The answer to a GraphQL request without the credential: no schema detail, the FORBIDDEN code. */
export const INGRESS_REFUSAL_BODY = JSON.stringify({
  errors: [
    {
      message: 'Forbidden: this endpoint serves the gateway and internal services only',
      extensions: { code: ErrorCode.Forbidden },
    },
  ],
});

interface Keys {
  ingressKey: string;
  ingressDigest: Buffer;
  tokenDigest: Buffer;
}

// One process holds one SERVICE_TOKEN (tests: one per file), so this stays tiny.
const keysByToken = new Map<string, Keys>();

function cachedKeys(token: string): Keys {
  let keys = keysByToken.get(token);
  if (!keys) {
    const key = ingressKey(token);
    keys = { ingressKey: key, ingressDigest: sha256(key), tokenDigest: sha256(token) };
    if (keysByToken.size >= 16) keysByToken.clear();
    keysByToken.set(token, keys);
  }
  return keys;
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
