/**
 * The gateway's CPU per request by operation, on one deployed platform (bench/deployed-platform.ts)
 * in short alternating phases, so that each operation is measured under the same machine load: a
 * `placeOrder` mutation (trading), `{ accounts { id } }` (a query to the same subgraph) and
 * `{ me { id email } }` (auth). For each phase: requests/s, the gateway's user and system CPU per
 * request and its context switches per request (/proc), trading's CPU per request. A phase may be
 * paced to a request rate (`me@1100`: the same clients, spread to 1,100 requests/s in all) or use
 * fewer clients (`place#16`), which separates what an operation costs from what its request rate
 * costs: the gateway's CPU per request rises as fewer requests share each wake-up of the process.
 * Run: `npx tsx bench/gateway-operations.ts [seconds=4] [rounds=3] [clients=64] [phases=place,me,accounts]`.
 * Loopback only; its own database, Redis prefix and ports; stops by itself.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { provisioned, registerOwner, startDeployedPlatform } from './deployed-platform.js';
import { LeanConnection } from './lean-http.js';
import { pidsLabelled } from './proc-cpu.js';
import { marketOrderInput } from './trading-support.js';

const PLACE =
  'mutation Place($input: PlaceOrderInput!) { placeOrder(input: $input) { id clientOrderId status rejectReason } }';
const OPERATIONS = ['place', 'accounts', 'me'] as const;
type Operation = (typeof OPERATIONS)[number];
const TENANTS = 10;

interface ProcCounters {
  user: number;
  system: number;
  voluntary: number;
  involuntary: number;
}

/** CPU ticks (10 ms) and context switches of a process so far. */
function counters(pid: number): ProcCounters {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1]);
  return {
    user: Number(f[11]),
    system: Number(f[12]),
    voluntary: field('voluntary_ctxt_switches'),
    involuntary: field('nonvoluntary_ctxt_switches'),
  };
}

function sum(pids: number[]): ProcCounters {
  const total: ProcCounters = { user: 0, system: 0, voluntary: 0, involuntary: 0 };
  for (const c of pids.map(counters)) {
    total.user += c.user;
    total.system += c.system;
    total.voluntary += c.voluntary;
    total.involuntary += c.involuntary;
  }
  return total;
}

/** A phase: an operation, optionally paced to a total rate (`@rate`) or run by fewer clients (`#n`). */
interface Phase {
  label: string;
  operation: Operation;
  rate: number | undefined;
  clients: number | undefined;
}

function parsePhase(label: string): Phase {
  const m = /^(\w+)(?:@(\d+))?(?:#(\d+))?$/.exec(label);
  const operation = OPERATIONS.find((o) => o === m?.[1]);
  if (!m || !operation) throw new Error(`phase ${label}: expected ${OPERATIONS.join('|')}[@rate][#clients]`);
  return {
    label,
    operation,
    rate: m[2] ? Number(m[2]) : undefined,
    clients: m[3] ? Number(m[3]) : undefined,
  };
}

interface Row {
  phase: string;
  rate: number;
  user: number;
  system: number;
  voluntary: number;
  involuntary: number;
  trading: number;
}

async function gql<T>(url: string, query: string, variables: unknown, token: string): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: unknown };
  if (!body.data || body.errors) throw new Error(JSON.stringify(body));
  return body.data;
}

const median = (values: number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

async function main(): Promise<void> {
  const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const seconds = Number(positional[0] ?? 4);
  const rounds = Number(positional[1] ?? 3);
  const clients = Number(positional[2] ?? 64);
  const phases = (positional[3] ?? 'place,accounts,me').split(',').map(parsePhase);

  const deployed = await startDeployedPlatform('bench_gateway_operations', {
    MARKET_FEED_SYMBOLS: 'AAPL,MSFT',
    MARKET_FEED_TICKS_PER_SECOND: '20',
  });
  const conns: LeanConnection[] = [];
  try {
    const url = deployed.graphqlUrl;
    const owners: { token: string }[] = [];
    for (let i = 0; i < TENANTS; i++) owners.push(await registerOwner(url, i));
    await provisioned(
      url,
      owners.map((o) => o.token),
      deployed.vars,
    );
    const tenants: { token: string; accountId: string }[] = [];
    for (const o of owners) {
      const { accounts } = await gql<{ accounts: { id: string }[] }>(url, '{ accounts { id } }', {}, o.token);
      const accountId = accounts[0]?.id;
      if (!accountId) throw new Error('a tenant has no account');
      tenants.push({ token: o.token, accountId });
      await gql(
        url,
        `mutation($a: ID!) { updateRiskLimits(accountId: $a, input: { allowShortSelling: true, maxOrdersPerMinute: 1000000 }) { allowShortSelling } }`,
        { a: accountId },
        o.token,
      );
    }
    const tenantOf = (c: number): { token: string; accountId: string } => {
      const t = tenants[c % tenants.length];
      if (!t) throw new Error('no tenants');
      return t;
    };
    // The feed's first quote: a market order then fills.
    for (let filled = false; !filled;) {
      const first = tenantOf(0);
      const r = await gql<{ placeOrder: { status: string } }>(
        url,
        PLACE,
        { input: marketOrderInput(first.accountId, `warm-${Date.now()}`, 0) },
        first.token,
      );
      filled = r.placeOrder.status === 'FILLED';
      if (!filled) await new Promise((r) => setTimeout(r, 200));
    }
    const root = deployed.platform.child.pid ?? 0;
    const gateway = pidsLabelled([root], 'gateway');
    const trading = pidsLabelled([root], 'trading');
    for (let c = 0; c < clients; c++) conns.push(new LeanConnection(url));
    let sequence = 0;
    const bodyOf = (operation: Operation, c: number): string => {
      if (operation === 'me') return JSON.stringify({ query: '{ me { id email } }' });
      if (operation === 'accounts') return JSON.stringify({ query: '{ accounts { id } }' });
      const n = sequence++;
      return JSON.stringify({
        query: PLACE,
        variables: { input: marketOrderInput(tenantOf(c).accountId, `g-${c}-${n}`, n) },
      });
    };

    const run = async (phase: Phase, secs: number): Promise<Row> => {
      const active = conns.slice(0, phase.clients ?? conns.length);
      // Paced: each client sends on its own schedule, `gap` apart, from a random start.
      const gap = phase.rate ? (1000 * active.length) / phase.rate : 0;
      let answered = 0;
      let failed = 0;
      const g0 = sum(gateway);
      const t0 = sum(trading);
      const started = performance.now();
      const until = started + secs * 1000;
      await Promise.all(
        active.map(async (conn, c) => {
          const headers = ['Content-Type: application/json', `Authorization: Bearer ${tenantOf(c).token}`];
          let next = performance.now() + Math.random() * gap;
          while (performance.now() < until) {
            if (gap > 0) {
              const wait = next - performance.now();
              if (wait > 0) await new Promise((r) => setTimeout(r, wait));
              next += gap;
            }
            const res = await conn.post(bodyOf(phase.operation, c), headers);
            if (res.status === 200 && !res.body.includes('"errors"')) answered++;
            else if (failed++ === 0) console.log(`  ${phase.label}: ${res.status} ${res.body.toString()}`);
          }
        }),
      );
      const elapsed = (performance.now() - started) / 1000;
      const g1 = sum(gateway);
      const t1 = sum(trading);
      const n = Math.max(1, answered);
      // /proc counts CPU in ticks of 10 ms: µs per request = ticks * 10,000 / requests.
      return {
        phase: phase.label,
        rate: answered / elapsed,
        user: ((g1.user - g0.user) * 10_000) / n,
        system: ((g1.system - g0.system) * 10_000) / n,
        voluntary: (g1.voluntary - g0.voluntary) / n,
        involuntary: (g1.involuntary - g0.involuntary) / n,
        trading: ((t1.user + t1.system - t0.user - t0.system) * 10_000) / n,
      };
    };

    for (const phase of phases) await run(phase, 1);
    console.log(
      `gateway CPU per request by operation, ${clients} clients, ${tenants.length} tenants, ${seconds} s phases, ${rounds} rounds; ${os.cpus().length} CPUs`,
    );
    const rows: Row[] = [];
    for (let r = 0; r < rounds; r++) {
      for (const phase of phases) {
        const row = await run(phase, seconds);
        rows.push(row);
        console.log(
          `  ${row.phase.padEnd(14)} ${row.rate.toFixed(0).padStart(6)}/s  gateway ${(row.user + row.system).toFixed(0).padStart(5)} µs (user ${row.user.toFixed(0)}, system ${row.system.toFixed(0)}), context switches ${row.voluntary.toFixed(2)} voluntary ${row.involuntary.toFixed(2)} involuntary  trading ${row.trading.toFixed(0)} µs  load ${os.loadavg()[0]?.toFixed(1)}`,
        );
      }
    }
    console.log('medians:');
    for (const phase of phases) {
      const mine = rows.filter((r) => r.phase === phase.label);
      console.log(
        `  ${phase.label.padEnd(14)} ${median(mine.map((r) => r.rate))
          .toFixed(0)
          .padStart(
            6,
          )}/s  gateway ${median(mine.map((r) => r.user + r.system)).toFixed(0)} µs per request, ${median(mine.map((r) => r.voluntary)).toFixed(2)} voluntary context switches`,
      );
    }
  } finally {
    for (const c of conns) c.close();
    await deployed.stop();
  }
}

await main();
