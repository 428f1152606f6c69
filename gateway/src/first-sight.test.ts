import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express, { type Response } from 'express';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { FirstSight, NewDocuments } from './first-sight.js';

/**
 * A real HTTP server with FirstSight in front of a stand-in for Apollo that records which requests
 * reached it and holds each until the test answers it, so the order of events is the test's.
 */
async function world(maxWaitMs = 10_000): Promise<{
  url: string;
  sight: FirstSight;
  reached: { tag: string; res: Response }[];
  waits: () => Promise<number>;
  close: () => Promise<void>;
}> {
  let sdl = 'v1';
  const registry = new Registry();
  const firstSightWaits = new Counter({ name: 'waits', help: 'waits', registers: [registry] });
  const sight = new FirstSight(100, { firstSightWaits }, () => sdl, maxWaitMs);
  const reached: { tag: string; res: Response }[] = [];
  const app = express();
  app.use(express.json());
  app.post('/graphql', sight.handler(), (req, res) => {
    reached.push({ tag: String((req.body as { tag?: unknown }).tag), res });
  });
  app.post('/reload', (_req, res) => {
    sdl = 'v2';
    res.end();
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sight,
    reached,
    waits: async () => (await firstSightWaits.get()).values[0]?.value ?? 0,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

const hashOf = (query: string): string => createHash('sha256').update(query).digest('hex');

function send(url: string, query: string, tag: string, operationName?: string): Promise<string> {
  return fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, tag, operationName }),
  }).then((r) => r.text());
}

/** Resolves once `n` requests have reached the stand-in (or fails after 5 s). */
async function reachedCount(w: { reached: unknown[] }, n: number): Promise<void> {
  for (let i = 0; i < 500 && w.reached.length < n; i++) await new Promise((r) => setTimeout(r, 10));
  expect(w.reached.length).toBe(n);
}

/** Gives requests in flight time to arrive (they must not reach the stand-in). */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 150));

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

describe('FirstSight', () => {
  it('lets the first copy of a new document through and holds the others until it is validated', async () => {
    const w = await world();
    close = w.close;
    const query = '{ me { id } }';
    const answers = ['a', 'b', 'c', 'd'].map((tag) => send(w.url, query, tag));
    await reachedCount(w, 1);
    await settle();
    expect(w.reached).toHaveLength(1);
    expect(await w.waits()).toBe(3);

    w.sight.through(hashOf(query), undefined, true);
    await reachedCount(w, 4);
    // Known now: a later copy, and the same text with another operation name, are not held by it.
    const later = send(w.url, query, 'e');
    await reachedCount(w, 5);
    for (const r of w.reached) r.res.end(r.tag);
    expect(await Promise.all([...answers, later])).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(await w.waits()).toBe(3);
  });

  it('keys by operation name too, and lets unrelated documents and hash-only requests pass', async () => {
    const w = await world();
    close = w.close;
    const query = 'query A { me { id } } query B { me { email } }';
    void send(w.url, query, 'a', 'A');
    void send(w.url, query, 'b', 'B');
    void send(w.url, '{ other }', 'c');
    void fetch(`${w.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tag: 'apq', extensions: { persistedQuery: { version: 1, sha256Hash: 'x' } } }),
    });
    await reachedCount(w, 4);
    expect(await w.waits()).toBe(0);
    for (const r of w.reached) r.res.end();
  });

  it('hands the lead to a waiting copy when the first ends before validation', async () => {
    const w = await world();
    close = w.close;
    const query = '{ me { email } }';
    const answers = ['a', 'b', 'c'].map((tag) => send(w.url, query, tag));
    await reachedCount(w, 1);
    // Refused before validation (a rate limit, say): answered, not remembered.
    w.reached[0]?.res.end('a');
    await reachedCount(w, 2);
    await settle();
    expect(w.reached).toHaveLength(2);
    // A refusal that is not remembered releases the next one too.
    w.sight.through(hashOf(query), undefined, false);
    await reachedCount(w, 3);
    for (const r of w.reached.slice(1)) r.res.end(r.tag);
    expect(await Promise.all(answers)).toEqual(['a', 'b', 'c']);
  });

  it('lets a copy go on by itself when the first is not through in time', async () => {
    const w = await world(300);
    close = w.close;
    const query = '{ me { id slow } }';
    void send(w.url, query, 'a');
    await reachedCount(w, 1);
    void send(w.url, query, 'b');
    await settle();
    expect(w.reached).toHaveLength(1);
    // Past the bound without a word from Apollo on the first: the copy reaches it on its own.
    await reachedCount(w, 2);
    for (const r of w.reached) r.res.end();
  });

  it('forgets what it knew when the supergraph changes', async () => {
    const w = await world();
    close = w.close;
    const query = '{ me { id email } }';
    void send(w.url, query, 'a');
    await reachedCount(w, 1);
    w.sight.through(hashOf(query), undefined, true);
    await fetch(`${w.url}/reload`, { method: 'POST' });
    void send(w.url, query, 'b');
    void send(w.url, query, 'c');
    await reachedCount(w, 2);
    await settle();
    expect(w.reached).toHaveLength(2);
    w.sight.through(hashOf(query), undefined, true);
    await reachedCount(w, 3);
    for (const r of w.reached) r.res.end();
  });
});

describe('NewDocuments', () => {
  it('allows GATEWAY_NEW_DOCUMENTS_PER_CALLER per window and caller, then refuses until the window ends', () => {
    const clock = { t: 0 };
    const budget = new NewDocuments(
      { GATEWAY_NEW_DOCUMENTS_PER_CALLER: 2, GATEWAY_NEW_DOCUMENTS_WINDOW_SECONDS: 60 },
      () => clock.t,
    );
    expect(budget.take('user:a')).toBeUndefined();
    expect(budget.take('user:a')).toBeUndefined();
    clock.t = 15_000;
    const refused = budget.take('user:a');
    expect(refused?.code).toBe('RATE_LIMITED');
    expect(refused?.details).toEqual({ limit: 'new_documents', max: 2, retryAfter: 45 });
    expect(budget.take('user:b')).toBeUndefined();
    clock.t = 60_000;
    expect(budget.take('user:a')).toBeUndefined();
  });
});
