import { createHash as cryptoHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createHash } from './query-hash-memo.js';

const sha256 = (data: string | Buffer, encoding: 'hex' | 'base64' = 'hex'): string =>
  cryptoHash('sha256').update(data).digest(encoding);

describe('createHash (query-hash-memo)', () => {
  it("gives Node's sha256 hex digest of a text, the first time and from memory", () => {
    const query = 'mutation Place($input: PlaceOrderInput!) { placeOrder(input: $input) { id status } }';
    for (let round = 0; round < 3; round++) {
      expect(createHash('sha256').update(query).digest('hex')).toBe(sha256(query));
      expect(createHash('sha256').update('{ me { id } } é ✓').digest('hex')).toBe(
        sha256('{ me { id } } é ✓'),
      );
      expect(createHash('sha256').update('').digest('hex')).toBe(sha256(''));
    }
    expect(createHash('sha256').digest('hex')).toBe(sha256(''));
  });

  it("leaves to Node's crypto what it does not remember, with the same digests", () => {
    const long = 'x'.repeat(10_000);
    expect(createHash('sha256').update(long).digest('hex')).toBe(sha256(long));
    expect(createHash('sha256').update('ab').update('cd').digest('hex')).toBe(sha256('abcd'));
    expect(createHash('sha256').update('ab').update(Buffer.from('cd')).digest('hex')).toBe(sha256('abcd'));
    expect(createHash('sha256').update(Buffer.from('query')).digest('hex')).toBe(sha256('query'));
    expect(createHash('sha256').update('query').digest('base64')).toBe(sha256('query', 'base64'));
    expect(createHash('sha256').update('query').digest()).toEqual(
      cryptoHash('sha256').update('query').digest(),
    );
    expect(createHash('sha256').update('7175657279', 'hex').digest('hex')).toBe(sha256('query'));
    expect(createHash('sha512').update('query').digest('hex')).toBe(
      cryptoHash('sha512').update('query').digest('hex'),
    );
    // More texts than it keeps: still right after it forgets.
    for (let i = 0; i < 1500; i++) {
      const text = `query Q${i} { me { id } }`;
      expect(createHash('sha256').update(text).digest('hex')).toBe(sha256(text));
    }
  });
});
