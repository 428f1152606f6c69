/**
 * Counting rows in a pg_dump stream: COPY headers with plain and quoted names, blocks split across
 * chunks anywhere, empty tables, data lines that look like SQL, and a stream cut inside a block.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { copyTableName, CopyRowCounter } from '../../src/backup/stream-meters.js';

async function count(text: string, piece: number): Promise<Record<string, number>> {
  const buf = Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += piece) parts.push(buf.subarray(i, i + piece));
  const counter = new CopyRowCounter();
  await pipeline(Readable.from(parts), counter, async (src: AsyncIterable<Buffer>) => {
    for await (const _ of src) void _;
  });
  return counter.counts;
}

const DUMP = [
  '-- PostgreSQL database dump',
  'SET statement_timeout = 0;',
  'CREATE TABLE t_1.accounts (id uuid);',
  'COPY t_1.accounts (id, name) FROM stdin;',
  '1\tCOPY x.y (a) FROM stdin;',
  '2\tback\\\\slash\\n\\.not the end',
  '3\tZürich 😀',
  '\\.',
  '',
  'COPY t_1."Odd ""name"".x" (a) FROM stdin;',
  'a',
  '\\.',
  'COPY t_1.empty (a) FROM stdin;',
  '\\.',
  "SELECT pg_catalog.setval('t_1.s', 3, true);",
  '',
].join('\n');

describe('copyTableName', () => {
  it.each([
    ['COPY t_1.accounts (id, name) FROM stdin;', 'accounts'],
    ['COPY t_1."Odd ""name"".x" (a) FROM stdin;', 'Odd "name".x'],
    ['COPY public.t FROM stdin;', 't'],
    ['COPY t_1.accounts (id) TO stdout;', undefined],
    ['SELECT 1;', undefined],
  ])('%s -> %s', (line, name) => {
    expect(copyTableName(line)).toBe(name);
  });
});

describe('CopyRowCounter', () => {
  it.each([1, 2, 3, 7, 64, 100_000])('counts rows per table with %i-byte chunks', async (piece) => {
    expect(await count(DUMP, piece)).toEqual({ accounts: 3, 'Odd "name".x': 1, empty: 0 });
  });

  it('fails when the stream ends inside a COPY block', async () => {
    await expect(count(DUMP.slice(0, DUMP.indexOf('3\tZ')), 10)).rejects.toThrow('inside a COPY block');
  });
});
