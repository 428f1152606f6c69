/**
 * `@apollo/utils.createhash` for the `dist/` bundles (scripts/build.ts substitutes it; tests and `tsx`
 * keep the package): Node's crypto, with the sha256 hex digest of one string remembered. Apollo
 * Server hashes every request's query text to find its parsed document (`computeQueryHash`), and
 * clients send the same few documents over and over; a map look-up of the text costs a fraction of a
 * hash object and its digest. Anything else (other algorithms, several updates, buffers, other
 * encodings) goes to Node's crypto as before.
 */
import { createHash as cryptoHash, type BinaryToTextEncoding, type Hash } from 'node:crypto';

/** Texts remembered (forgotten all at once when full), and the longest one worth remembering. */
const MAX_TEXTS = 1024;
const MAX_TEXT_LENGTH = 8192;

const hexDigests = new Map<string, string>();

/** The part of Node's {@link Hash} that Apollo's packages use. */
export interface QueryHash {
  update(data: string | NodeJS.ArrayBufferView, encoding?: BufferEncoding): QueryHash;
  digest(): Buffer;
  digest(encoding: BinaryToTextEncoding): string;
}

/** sha256 that holds a single string update until the digest, then answers a hex digest from memory. */
class RememberingSha256 implements QueryHash {
  private text: string | undefined;
  private hash: Hash | undefined;

  update(data: string | NodeJS.ArrayBufferView, encoding?: BufferEncoding): QueryHash {
    if (!this.hash && this.text === undefined && typeof data === 'string' && encoding === undefined) {
      this.text = data;
      return this;
    }
    const hash = this.started();
    if (typeof data === 'string') hash.update(data, encoding ?? 'utf8');
    else hash.update(data);
    return this;
  }

  digest(): Buffer;
  digest(encoding: BinaryToTextEncoding): string;
  digest(encoding?: BinaryToTextEncoding): string | Buffer {
    const text = this.text;
    if (!this.hash && text !== undefined && encoding === 'hex' && text.length <= MAX_TEXT_LENGTH) {
      let hex = hexDigests.get(text);
      if (hex === undefined) {
        hex = cryptoHash('sha256').update(text).digest('hex');
        if (hexDigests.size >= MAX_TEXTS) hexDigests.clear();
        hexDigests.set(text, hex);
      }
      return hex;
    }
    const hash = this.started();
    return encoding === undefined ? hash.digest() : hash.digest(encoding);
  }

  /** Node's hash, fed the held text first. */
  private started(): Hash {
    if (!this.hash) {
      this.hash = cryptoHash('sha256');
      if (this.text !== undefined) this.hash.update(this.text);
      this.text = undefined;
    }
    return this.hash;
  }
}

/** `createHash` of `@apollo/utils.createhash`: see the module comment. */
export function createHash(kind: string): QueryHash {
  return kind === 'sha256' ? new RememberingSha256() : cryptoHash(kind);
}
