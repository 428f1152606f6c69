/**
 * Supergraph hot reload (development): rewriting the file makes new fields servable without a
 * restart; a broken file is refused with a logged error and the previous schema keeps serving.
 */
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayService } from '../src/gateway.js';
import {
  pollUntil,
  post,
  startGatewayBed,
  writeEchoSupergraph,
  type EchoSubgraph,
  type GatewayBed,
} from './support/harness.js';

let bed: GatewayBed;
let echo: EchoSubgraph;
let gateway: GatewayService;
let base: string;
let supergraphPath: string;

beforeAll(async () => {
  bed = await startGatewayBed('gateway_reload');
  ({ echo, supergraphPath } = bed.world);
  ({ gateway, url: base } = await bed.gateway({ supergraphWatch: true }));
});

afterAll(async () => {
  await bed?.stop();
});

const reloads = async (result: 'ok' | 'failed'): Promise<number> => {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = new RegExp(`gateway_supergraph_reloads_total\\{[^}]*result="${result}"[^}]*\\} (\\d+)`).exec(
    text,
  );
  return Number(m?.[1] ?? 0);
};

describe('supergraph hot reload', () => {
  it('serves a field added to the supergraph file, without a restart', async () => {
    const before = await post(`${base}/graphql`, { query: '{ added }' });
    expect(before.status).toBe(400);
    expect(before.body.errors?.[0]?.extensions?.['code']).toBe('GRAPHQL_VALIDATION_FAILED');

    await writeEchoSupergraph(supergraphPath, echo.url, true);
    const served = await pollUntil(async () => {
      const res = await post(`${base}/graphql`, { query: '{ added hello }' });
      return JSON.stringify(res.body.data) === JSON.stringify({ added: 'new field', hello: 'world' });
    }, 10_000);
    expect(served).toBe(true);
    expect(gateway.state).toBe('serving');
  });

  it('keeps the current schema when the new file is broken', async () => {
    const failedBefore = await reloads('failed');
    await writeFile(supergraphPath, 'schema @link(url: "https://specs.apollo.dev/link/v1.0") { query: Query');
    expect(await pollUntil(async () => (await reloads('failed')) > failedBefore, 10_000)).toBe(true);
    const res = await post(`${base}/graphql`, { query: '{ added hello }' });
    expect(res.body.data).toEqual({ added: 'new field', hello: 'world' });
    expect(gateway.state).toBe('serving');
    expect((await fetch(`${base}/ready`)).status).toBe(200);

    // A valid supergraph that does not build (no join spec) is refused the same way.
    const failedMid = await reloads('failed');
    await writeFile(supergraphPath, 'type Query { hello: String }\n');
    expect(await pollUntil(async () => (await reloads('failed')) > failedMid, 10_000)).toBe(true);
    expect((await post(`${base}/graphql`, { query: '{ added }' })).body.data).toEqual({ added: 'new field' });

    // And a good file afterwards is picked up again.
    await writeEchoSupergraph(supergraphPath, echo.url, false);
    const removed = await pollUntil(async () => {
      const r = await post(`${base}/graphql`, { query: '{ added }' });
      return r.body.errors?.[0]?.extensions?.['code'] === 'GRAPHQL_VALIDATION_FAILED';
    }, 10_000);
    expect(removed).toBe(true);
  });
});
