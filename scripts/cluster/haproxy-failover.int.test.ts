/**
 * The cluster's HAProxy (its generated configuration, the real binary) while a dependency every
 * replica shares fails over: each replica's `/ready` answers 503 at once, as they all do during a
 * Redis failover. HAProxy must still hand requests to them (they answer for themselves: a retryable
 * refusal, or the answer once Redis is back) rather than its own 503 until every hop's checks pass
 * twice again (docs/reliability.md, "Queries after a Redis failover"); while one replica is ready,
 * only that one takes requests; and when no replica answers at all, HAProxy's own refusal is a
 * retryable GraphQL error with Retry-After. The replicas are two small HTTP servers on the gateway's
 * replica ports, so their readiness can be switched.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../../test/support/cluster.js';
import { eventually } from '../../test/support/wait.js';

/** A stand-in gateway replica: `/ready` as switched, POST /graphql answers which replica it is. */
interface Replica {
  name: string;
  ready: boolean;
  server: http.Server;
}

let dir = '';
let tc: TestCluster;
const replicas: Replica[] = [];

function startReplica(name: string, port: number): Replica {
  const replica: Replica = { name, ready: true, server: http.createServer() };
  replica.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/ready') {
        res.writeHead(replica.ready ? 200 : 503, { 'content-type': 'application/json' }).end('{}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: { replica: name } }));
    });
  });
  replica.server.listen(port, '127.0.0.1');
  return replica;
}

function closeReplica(r: Replica): Promise<void> {
  return new Promise((resolve) => {
    r.server.close(() => resolve());
    r.server.closeAllConnections();
  });
}

/** HAProxy's status of each checked gateway server (`gateway-1` -> `UP`, `DOWN`, `DOWN 1/2`...). */
async function gatewayServers(): Promise<Map<string, string>> {
  const text = await (await fetch(`http://127.0.0.1:${tc.cluster.plan.ports.haproxyStats}/;csv`)).text();
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const cols = line.split(',');
    // Columns: pxname, svname, ..., status (18th).
    if (cols[0] === 'gateway' && /^gateway-\d+$/.test(cols[1] ?? '')) out.set(cols[1] ?? '', cols[17] ?? '');
  }
  return out;
}

/**
 * One query through HAProxy's entry on a connection of its own (`agent: false`): a kept-alive one
 * from an earlier test could be the one HAProxy closes as the replicas go away, and the request
 * would fail with "other side closed" instead of getting HAProxy's answer (a CI run did).
 */
function ask(): Promise<{ status: number; retryAfter: string | null; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: tc.cluster.plan.ports.entry,
        path: '/graphql',
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          try {
            const retryAfter = res.headers['retry-after'];
            resolve({
              status: res.statusCode ?? 0,
              retryAfter: typeof retryAfter === 'string' ? retryAfter : null,
              body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown,
            });
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        });
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ query: '{ __typename }' }));
  });
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tradesage-haproxy-'));
  // The replicas listen before HAProxy starts: the cluster's start waits for the entry's /ready.
  tc = await startTestCluster(
    dir,
    {},
    (p) => p.kind === 'haproxy',
    (cluster) => {
      (cluster.plan.ports.replicas['gateway'] ?? []).forEach((port, i) => {
        replicas.push(startReplica(`gateway-${i + 1}`, port));
      });
    },
  );
}, 60_000);

afterAll(async () => {
  await Promise.all(replicas.map(closeReplica));
  await tc?.cluster.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('HAProxy while every replica fails /ready together', () => {
  it('still hands requests to the replicas, and only to the ready one once one is ready again', async () => {
    const [one, two] = replicas;
    if (!one || !two) throw new Error('two gateway replicas expected');
    for (const r of replicas) r.ready = false;
    await eventually(
      async () => ([...(await gatewayServers()).values()].every((s) => s === 'DOWN') ? true : undefined),
      'both gateway replicas marked down',
    );
    // Before the change: HAProxy's "503 Service Unavailable" page, until two checks in a row passed.
    const during = await ask();
    expect(during.status).toBe(200);
    expect(during.body).toMatchObject({ data: { replica: expect.stringMatching(/^gateway-[12]$/) } });

    one.ready = true;
    await eventually(
      async () => ((await gatewayServers()).get('gateway-1') === 'UP' ? true : undefined),
      'gateway-1 up again',
    );
    // With a checked replica up, the unready one takes nothing (the unchecked servers are backups).
    const answers = await Promise.all(Array.from({ length: 10 }, () => ask()));
    expect(answers.map((a) => a.body)).toEqual(answers.map(() => ({ data: { replica: 'gateway-1' } })));
  }, 60_000);

  it('answers its own refusal as a retryable GraphQL error when no replica answers at all', async () => {
    await Promise.all(replicas.map(closeReplica));
    const refused = await ask();
    expect(refused.status).toBe(503);
    expect(refused.retryAfter).toBe('1');
    expect(refused.body).toMatchObject({
      errors: [{ extensions: { code: 'INTERNAL_SERVER_ERROR', retryAfter: 1 } }],
    });
  }, 60_000);
});
