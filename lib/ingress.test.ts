import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isServiceCall } from './auth.js';
import { clientIp } from './context.js';
import {
  hasIngressCredential,
  hasServiceToken,
  INGRESS_HEADER,
  ingressHeaders,
  ingressKey,
  SERVICE_TOKEN_HEADER,
} from './ingress.js';

const config = { SERVICE_TOKEN: randomBytes(32).toString('hex') };
const other = { SERVICE_TOKEN: randomBytes(32).toString('hex') };

describe('ingress credential', () => {
  it('derives a key that is not the token and differs per token', () => {
    const key = ingressKey(config.SERVICE_TOKEN);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(key).not.toBe(config.SERVICE_TOKEN);
    expect(key).not.toBe(ingressKey(other.SERVICE_TOKEN));
    expect(ingressHeaders(config)).toEqual({ [INGRESS_HEADER]: key });
  });

  it('accepts the ingress key or the service token, and nothing else', () => {
    expect(hasIngressCredential(ingressHeaders(config), config)).toBe(true);
    expect(hasIngressCredential({ [SERVICE_TOKEN_HEADER]: config.SERVICE_TOKEN }, config)).toBe(true);
    expect(hasIngressCredential({}, config)).toBe(false);
    expect(hasIngressCredential(ingressHeaders(other), config)).toBe(false);
    expect(hasIngressCredential({ [INGRESS_HEADER]: config.SERVICE_TOKEN }, config)).toBe(false);
    expect(hasIngressCredential({ [INGRESS_HEADER]: '' }, config)).toBe(false);
    const key = ingressKey(config.SERVICE_TOKEN);
    expect(hasIngressCredential({ [INGRESS_HEADER]: key.slice(0, -1) }, config)).toBe(false);
    expect(hasIngressCredential({ [INGRESS_HEADER]: `${key}0` }, config)).toBe(false);
  });

  it('grants internal calls only with the raw token, never with the ingress key', () => {
    expect(hasServiceToken({ [SERVICE_TOKEN_HEADER]: config.SERVICE_TOKEN }, config)).toBe(true);
    expect(hasServiceToken({ [SERVICE_TOKEN_HEADER]: ingressKey(config.SERVICE_TOKEN) }, config)).toBe(false);
    expect(hasServiceToken(ingressHeaders(config), config)).toBe(false);
    expect(isServiceCall(config.SERVICE_TOKEN, config)).toBe(true);
    expect(isServiceCall(`${config.SERVICE_TOKEN}x`, config)).toBe(false);
    expect(isServiceCall(undefined, config)).toBe(false);
  });
});

describe('clientIp of a subgraph request', () => {
  const headers = { 'x-forwarded-for': '203.0.113.7, 10.0.0.1' };

  it('takes the forwarded address only from a caller holding the credential', () => {
    expect(clientIp(headers, '10.1.1.1', true)).toBe('203.0.113.7');
    expect(clientIp(headers, '10.1.1.1', false)).toBe('10.1.1.1');
    expect(clientIp({}, '10.1.1.1', true)).toBe('10.1.1.1');
  });
});
