/**
 * Pass-through streams that measure what flows through them (bytes, sha256) without copying it.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/** Counts bytes, optionally reporting every `reportEvery` bytes. */
export class ByteCounter extends Transform {
  bytes = 0;
  private nextReport: number;

  constructor(
    private readonly onBytes?: (bytes: number) => void,
    private readonly reportEvery = 4 * 1024 * 1024,
  ) {
    super();
    this.nextReport = reportEvery;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.onBytes && this.bytes >= this.nextReport) {
      this.nextReport = this.bytes + this.reportEvery;
      this.onBytes(this.bytes);
    }
    cb(null, chunk);
  }
}

/** Computes the sha256 (hex) and size of what passes through. */
export class Sha256Meter extends Transform {
  bytes = 0;
  private readonly hash: Hash = createHash('sha256');
  private hex: string | undefined;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }

  /** The digest; only once the stream has ended. */
  digest(): string {
    this.hex ??= this.hash.digest('hex');
    return this.hex;
  }
}

/** The table (last name part, unquoted) of a `COPY <schema>.<table> (...) FROM stdin;` line. */
export function copyTableName(line: string): string | undefined {
  if (!line.startsWith('COPY ') || !line.endsWith(' FROM stdin;')) return undefined;
  const parts: string[] = [];
  let i = 5;
  for (;;) {
    if (line[i] === '"') {
      let name = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return undefined;
        name += line.slice(i, q);
        if (line[q + 1] === '"') {
          name += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      parts.push(name);
    } else {
      const m = /^[^\s."(]+/.exec(line.slice(i));
      if (!m) return undefined;
      parts.push(m[0]);
      i += m[0].length;
    }
    if (line[i] !== '.') break;
    i++;
  }
  return parts.at(-1);
}

/**
 * Counts the data rows of each table in a plain-format pg_dump stream as it passes (the lines between
 * `COPY ... FROM stdin;` and `\.`; COPY text data never contains a raw newline). The counts describe
 * exactly what the dump holds, so a restore can check them, without a second scan of the tables.
 */
export class CopyRowCounter extends Transform {
  readonly counts: Record<string, number> = {};
  private table: string | undefined;
  private rows = 0;
  private carry: Buffer | undefined;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const buf = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl >= 0; nl = buf.indexOf(10, start)) {
      this.line(buf, start, nl);
      start = nl + 1;
    }
    this.carry = start < buf.length ? Buffer.from(buf.subarray(start)) : undefined;
    cb(null, chunk);
  }

  private line(buf: Buffer, s: number, e: number): void {
    if (this.table !== undefined) {
      // `\.` ends the block.
      if (e - s === 2 && buf[s] === 0x5c && buf[s + 1] === 0x2e) {
        this.counts[this.table] = (this.counts[this.table] ?? 0) + this.rows;
        this.table = undefined;
      } else {
        this.rows++;
      }
      return;
    }
    if (buf[s] !== 0x43 || buf.toString('latin1', s, s + 5) !== 'COPY ') return;
    const table = copyTableName(buf.toString('utf8', s, e));
    if (table !== undefined) {
      this.table = table;
      this.rows = 0;
    }
  }

  override _flush(cb: TransformCallback): void {
    cb(this.table !== undefined ? new Error('the dump ended inside a COPY block') : null);
  }
}
