/**
 * Where a Redis primary failover's time goes on `make cluster`'s topology (issue 12, docs/reliability.md):
 * starts a test cluster, registers a few owners, then polls `{ accounts { id } }` and `{ me { id } }`
 * with each owner's session every 50 ms through the entry while `redis-1` is killed (SIGKILL through
 * the cluster's own kill). Logged against the time of the kill: every answer that is not a success
 * (HTTP status, error code, message, Retry-After) and the first success after it, HAProxy's view of
 * every replica (its stats CSV, polled every 100 ms), each replica's own `/ready`, and the sentinels'
 * events (their logs). A timeline, not a benchmark: run it on a quiet machine.
 * Run: `npx tsx bench/redis-failover.ts [--owners=4] [--traders=2] [--after=15] [--cache=30]`
 * (`--cache`: SESSION_CACHE_SECONDS; a small value makes every session re-check during the failover).
 */
import { cp, readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunningCluster } from '../scripts/cluster/cluster.js';
import { startTestCluster, type TestCluster } from '../test/support/cluster.js';
import { startTrader, type Ack } from '../test/support/chaos-load.js';
import { createTestEnv } from '../test/support/env.js';
import { runCommandEnv } from '../test/support/run-command.js';
import { startTestSshd } from '../test/support/sshd.js';
import { eventually } from '../test/support/wait.js';
import { LIMITS_ABOVE_LOAD, registerOwner } from './deployed-platform.js';

const arg = (name: string, fallback: number): number => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : fallback;
};
const OWNERS = arg('owners', 4);
const TRADERS = arg('traders', 2);
const AFTER_S = arg('after', 15);
const CACHE_S = arg('cache', 30);

const QUERIES = { accounts: '{ accounts { id } }', me: '{ me { id } }' } as const;

interface Answer {
  at: number;
  who: string;
  query: string;
  status: number;
  code: string;
  message: string;
  retryAfter: string;
  ms: number;
}

async function ask(url: string, token: string, query: string): Promise<Omit<Answer, 'who' | 'query'>> {
  const at = Date.now();
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query }),
      signal: AbortSignal.timeout(20_000),
    });
    const text = await res.text();
    let code = '';
    let message = '';
    try {
      const body = JSON.parse(text) as {
        data?: unknown;
        errors?: { message: string; extensions?: { code?: string } }[];
      };
      const e = body.errors?.[0];
      code = e ? (e.extensions?.code ?? '?') : 'OK';
      message = e?.message ?? '';
    } catch {
      code = 'NOT_JSON';
      message = text.slice(0, 80).replace(/\s+/g, ' ');
    }
    return {
      at,
      status: res.status,
      code,
      message,
      retryAfter: res.headers.get('retry-after') ?? '',
      ms: Date.now() - at,
    };
  } catch (err) {
    return { at, status: 0, code: 'TRANSPORT', message: String(err), retryAfter: '', ms: Date.now() - at };
  }
}

/** HAProxy's status of every server (`backend/server` -> `UP`, `DOWN 1/2`...). */
async function haproxyView(statsPort: number): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const text = await fetch(`http://127.0.0.1:${statsPort}/;csv`).then(
    (r) => r.text(),
    () => '',
  );
  for (const line of text.split('\n')) {
    const [px, sv, ...rest] = line.split(',');
    if (!px || !sv || px.startsWith('#') || sv === 'FRONTEND' || sv === 'BACKEND') continue;
    // Column 18 (0-based 17) is `status`.
    out.set(`${px}/${sv}`, rest[15] ?? '?');
  }
  return out;
}

async function main(): Promise<void> {
  const env = await createTestEnv('rfailover');
  const sshd = await startTestSshd(env.tmpDir);
  let tc: TestCluster | undefined;
  let created: RunningCluster | undefined;
  try {
    const vars = await runCommandEnv(env, {
      ...sshd.env,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      ...LIMITS_ABOVE_LOAD,
      MA130_CHECK_INTERVAL_MS: '3600000',
      SESSION_CACHE_SECONDS: String(CACHE_S),
      MARKET_FEED_SYMBOLS: 'AAPL,MSFT',
      MARKET_FEED_TICKS_PER_SECOND: '20',
    });
    const t0 = Date.now();
    tc = await startTestCluster(env.tmpDir, vars, undefined, (c) => {
      created = c;
    }).catch(async (err: unknown) => {
      await created?.stop();
      throw err;
    });
    const cluster = tc.cluster;
    console.log(`cluster up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const url = `http://127.0.0.1:${cluster.plan.ports.entry}/graphql`;
    const owners: { name: string; token: string; accountId: string }[] = [];
    for (let i = 0; i < OWNERS; i++) {
      const { token } = await eventually(
        () => registerOwner(url, i).catch(() => undefined),
        'register',
        60_000,
        250,
      );
      const accountId = await eventually(
        async () => {
          const a = await ask(url, token, QUERIES.accounts);
          if (a.code !== 'OK') return undefined;
          const r = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
            body: JSON.stringify({ query: QUERIES.accounts }),
          });
          const body = (await r.json()) as { data?: { accounts?: { id: string }[] } };
          return body.data?.accounts?.[0]?.id;
        },
        'paper account',
        60_000,
        250,
      );
      owners.push({ name: `o${i}`, token, accountId });
    }
    const acks: Ack[] = [];
    const traders = Array.from({ length: TRADERS }, (_, i) => {
      const o = owners[i % owners.length] ?? owners[0];
      return startTrader(url, o?.token ?? '', o?.accountId ?? '', `t${i}`, acks);
    });
    // Let the sessions' cached liveness and HAProxy settle.
    await sleep(3000);

    const answers: Answer[] = [];
    const haproxy: { at: number; server: string; status: string }[] = [];
    const ready: { at: number; name: string; status: string }[] = [];
    let polling = true;
    const pollers = owners.flatMap((o) =>
      Object.entries(QUERIES).map(async ([qname, q]) => {
        while (polling) {
          const a = await ask(url, o.token, q);
          answers.push({ ...a, who: o.name, query: qname });
          await sleep(50);
        }
      }),
    );
    const haproxyPoll = (async () => {
      const last = new Map<string, string>();
      while (polling) {
        const at = Date.now();
        for (const [server, status] of await haproxyView(cluster.plan.ports.haproxyStats)) {
          if (last.get(server) !== status) {
            last.set(server, status);
            haproxy.push({ at, server, status });
          }
        }
        await sleep(100);
      }
    })();
    const replicas = cluster.plan.processes.filter((p) => p.kind === 'node' && !p.name.includes('worker'));
    // Each replica polled on its own: a check can take up to 2 s (lib/http's check timeout), and the
    // time that counts is when the answer arrived.
    const readyPolls = replicas.map(async (p) => {
      let last = '';
      while (polling) {
        const started = Date.now();
        const status = await fetch(`http://127.0.0.1:${p.port}/ready`, {
          signal: AbortSignal.timeout(5000),
        }).then(
          async (r) => {
            const body = (await r.json().catch(() => ({}))) as { checks?: Record<string, boolean> };
            const failing = Object.entries(body.checks ?? {})
              .filter(([, ok]) => !ok)
              .map(([name]) => name);
            return `${r.status}${failing.length ? ` (${failing.join(',')})` : ''}`;
          },
          () => 'no answer',
        );
        if (status !== last) {
          last = status;
          ready.push({
            at: Date.now(),
            name: p.name,
            status: `${status} [asked ${Date.now() - started} ms before]`,
          });
        }
        await sleep(50);
      }
    });
    await sleep(2000);
    const acksBefore = acks.length;
    const killAt = Date.now();
    await cluster.kill('redis-1');
    console.log(`redis-1 killed (${Date.now() - killAt} ms to exit)`);
    await sleep(AFTER_S * 1000);
    polling = false;
    await Promise.all([...pollers, haproxyPoll, ...readyPolls]);
    await Promise.all(traders.map((t) => t.stop().catch((e: unknown) => console.log(String(e)))));

    const rel = (at: number): string => `${((at - killAt) / 1000).toFixed(2).padStart(6)} s`;
    console.log(`\norders acknowledged after the kill: ${acks.length - acksBefore}`);
    console.log('\n== sentinel events ==');
    for (const name of ['sentinel-1', 'sentinel-2', 'sentinel-3']) {
      const log = await readFile(path.join(cluster.plan.paths.root, 'logs', `${name}.log`), 'utf8');
      for (const line of log.split('\n')) {
        // e.g. "123:X 06 Dec 2026 23:50:01.123 # +switch-master mymaster 127.0.0.1 1 127.0.0.1 2"
        const m = /^\d+:X (\d+ \w+ \d+ [\d:.]+) [#*] (.*)$/.exec(line);
        if (!m?.[1] || !m[2]) continue;
        const at = Date.parse(`${m[1]} UTC`);
        if (at < killAt - 500) continue;
        if (!/sdown|odown|switch-master|failover|promoted|selected|convert|elected/.test(m[2])) continue;
        console.log(`${rel(at)} ${name} ${m[2]}`);
      }
    }
    console.log('\n== HAProxy server status changes ==');
    for (const h of haproxy.filter((x) => x.at >= killAt - 200))
      console.log(`${rel(h.at)} ${h.server.padEnd(28)} ${h.status}`);
    console.log('\n== replica /ready changes (time the answer arrived) ==');
    for (const r of ready.filter((x) => x.at >= killAt - 200).sort((x, y) => x.at - y.at))
      console.log(`${rel(r.at)} ${r.name.padEnd(20)} ${r.status}`);
    // Runs of the same answer per stream (owner/query), from the kill on.
    console.log('\n== answers: runs of one kind per stream (asked from .. to, count, slowest) ==');
    const streams = new Map<string, Answer[]>();
    for (const x of answers.filter((y) => y.at >= killAt - 200).sort((p, q) => p.at - q.at)) {
      const key = `${x.who}/${x.query}`;
      streams.set(key, [...(streams.get(key) ?? []), x]);
    }
    for (const [key, list] of [...streams].sort()) {
      let run: Answer[] = [];
      const flush = (): void => {
        const first = run[0];
        const lastOne = run.at(-1);
        if (!first || !lastOne) return;
        console.log(
          `${key.padEnd(12)} ${rel(first.at)} .. ${rel(lastOne.at)} ${String(run.length).padStart(3)}x ${first.status} ${first.code.padEnd(22)} retry-after=${first.retryAfter.padEnd(2)} max ${Math.max(...run.map((r) => r.ms))} ms  ${first.message.slice(0, 70)}`,
        );
      };
      for (const x of list) {
        const head = run[0];
        if (head && (head.status !== x.status || head.code !== x.code || head.message !== x.message)) {
          flush();
          run = [];
        }
        run.push(x);
      }
      flush();
    }
    console.log('\n== per stream: last non-OK answer (time it was asked) ==');
    const lastBad = new Map<string, number>();
    for (const a of answers) if (a.code !== 'OK' && a.at >= killAt) lastBad.set(`${a.who}/${a.query}`, a.at);
    for (const [k, at] of [...lastBad].sort()) console.log(`${k.padEnd(12)} ${rel(at)}`);
    const worst = Math.max(...lastBad.values());
    console.log(`last non-OK answer of all: ${lastBad.size ? rel(worst) : 'none'}`);
  } finally {
    const c = tc?.cluster ?? created;
    await c?.stop();
    // `--logs=<dir>`: every process's log survives (the namespace's folder is removed).
    const keep = process.argv.find((x) => x.startsWith('--logs='))?.slice('--logs='.length);
    if (keep && c) {
      await cp(path.join(c.plan.paths.root, 'logs'), keep, { recursive: true });
      console.log(`logs kept in ${keep}`);
    }
    await sshd.stop();
    await env.cleanup();
  }
}

await main();
