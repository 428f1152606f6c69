import Negotiator from 'negotiator';
import { describe, expect, it } from 'vitest';
import { MemoNegotiator } from './negotiator-memo.js';

// The lists @apollo/server 5 offers (MEDIA_TYPES), and a few more.
const OFFERS: string[][] = [
  ['multipart/mixed;deferSpec=20220824', 'multipart/mixed;incrementalSpec=v0.2'],
  ['application/json; charset=utf-8', 'application/graphql-response+json; charset=utf-8', 'application/json'],
  ['multipart/mixed;incrementalSpec=v0.2', 'multipart/mixed;deferSpec=20220824', 'multipart/mixed'],
  ['text/html', 'application/json'],
];
const ACCEPTS: (string | undefined)[] = [
  undefined,
  '',
  '*/*',
  'application/json',
  'application/graphql-response+json, application/json;q=0.9',
  'multipart/mixed;deferSpec=20220824, application/json',
  'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
  'application/json;q=0',
  'nonsense',
];

describe('MemoNegotiator', () => {
  it("answers as the package does, from memory the second time, with the caller's own array", () => {
    for (let round = 0; round < 2; round++) {
      for (const accept of ACCEPTS) {
        for (const offer of OFFERS) {
          const expected = new Negotiator({ headers: { accept } });
          const memo = new MemoNegotiator({ headers: { accept } });
          expect(memo.mediaTypes(offer), `${String(accept)} / ${offer.join(' ')}`).toEqual(
            expected.mediaTypes(offer),
          );
          expect(memo.mediaType(offer)).toBe(expected.mediaType(offer));
        }
      }
    }
    const offer = OFFERS[1] ?? [];
    const first = new MemoNegotiator({ headers: { accept: '*/*' } }).mediaTypes(offer);
    first.length = 0;
    expect(new MemoNegotiator({ headers: { accept: '*/*' } }).mediaTypes(offer)).toHaveLength(3);
  });

  it('leaves to the package what it does not remember: repeated headers, no offer, more headers than it keeps', () => {
    // Node joins a repeated Accept header; an array reaches the package, which fails on it as before.
    const repeated = { headers: { accept: ['application/json', 'text/html'] } };
    expect(() => new MemoNegotiator(repeated).mediaTypes(['text/html'])).toThrow(TypeError);
    expect(() => new Negotiator(repeated).mediaTypes(['text/html'])).toThrow(TypeError);
    const plain = { headers: { accept: 'text/html, application/json;q=0.5' } };
    expect(new MemoNegotiator(plain).mediaTypes()).toEqual(['text/html', 'application/json']);
    for (let i = 0; i < 200; i++) {
      const accept = `application/x-${i}, application/json;q=0.1`;
      expect(
        new MemoNegotiator({ headers: { accept } }).mediaType(['application/json', `application/x-${i}`]),
      ).toBe(`application/x-${i}`);
    }
  });
});
