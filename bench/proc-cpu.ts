/**
 * CPU time per process group, read from /proc (Linux): the descendants of given pids, labelled by
 * the service they run, plus the machine's PostgreSQL and Redis servers. Benchmarks take a snapshot
 * before and after a phase and print where the CPU went.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100;

interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
  ticks: number;
}

function readProc(pid: number): ProcInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm is in parentheses and may hold spaces; the fields after it are space-separated.
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const f = stat.slice(close + 2).split(' ');
    return { pid, ppid: Number(f[1]), comm, ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return undefined; // gone meanwhile
  }
}

/** CPU ticks (10 ms) a process has used so far, or undefined when it is gone. */
export function processTicks(pid: number): number | undefined {
  return readProc(pid)?.ticks;
}

/** The service a process runs, from its command line (`subgraphs/trading/...` or `dist/trading.js` -> `trading`). */
function labelOf(p: ProcInfo, database?: string, roles = false): string {
  if (p.comm.startsWith('postgres')) {
    if (roles) return postgresRoleLabel(p.pid);
    return database ? postgresLabel(p.pid, database) : 'postgresql';
  }
  if (p.comm.startsWith('redis-server')) return 'redis';
  let cmd = '';
  try {
    cmd = readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return p.comm;
  }
  // From dist/ (scripts/build.ts): dist/trading.js, dist/tenants-worker.js, dist/dev.js.
  // The last one: preloads (dist/telemetry.js) come before the entry.
  const bundle = [...cmd.matchAll(/dist\/([\w-]+)\.js/g)].at(-1)?.[1];
  if (bundle) return bundle === 'dev' ? 'run command' : bundle.replace(/-worker$/, ' worker');
  const sub = /subgraphs\/([\w-]+)\//.exec(cmd);
  if (sub?.[1]) return /worker/.test(cmd) ? `${sub[1]} worker` : sub[1];
  if (cmd.includes('gateway/')) return 'gateway';
  if (cmd.includes('--abuser')) return 'load: abuser';
  if (cmd.includes('--sampler')) return 'bench: cpu sampler';
  if (cmd.includes('--hive ')) return cmd.includes(' router ') ? 'hive router' : 'hive default';
  if (cmd.includes('bench/')) return 'load: bench';
  if (cmd.includes('scripts/dev.ts')) return 'run command';
  return p.comm;
}

/**
 * A PostgreSQL process told apart by its title (`postgres: [cluster: ]<user> <database> <host> <state>`):
 * the backends of `database`, those of other databases (other benches or tests on the machine), and
 * the server's own processes (WAL writer, checkpointer...), which every database shares.
 */
function postgresLabel(pid: number, database: string): string {
  let title = '';
  try {
    title = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return 'postgresql (server)';
  }
  const words = title.split(/\s+/);
  if (words.includes(database)) return 'postgresql';
  // A backend's title has its client's address: host(port) or [local].
  return /\(\d+\)|\[local\]/.test(title) ? 'postgresql (other databases)' : 'postgresql (server)';
}

/**
 * A PostgreSQL process told apart by the role it serves (`postgresql: tradesage_owner`), from the
 * same title: the user is the word before the database, which is followed by the client's address.
 * The server's own processes are `postgresql (server)`.
 */
function postgresRoleLabel(pid: number): string {
  let words: string[] = [];
  try {
    words = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').split(/\s+/);
  } catch {
    return 'postgresql (server)';
  }
  const at = words.findIndex((w) => /\(\d+\)$|^\[local\]$/.test(w));
  return at >= 2 ? `postgresql: ${words[at - 2]}` : 'postgresql (server)';
}

/** Pids among `roots` and their descendants whose label (see cpuSnapshot) is `label`. */
export function pidsLabelled(roots: number[], label: string): number[] {
  const all: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProc(Number(name));
    if (p) all.push(p);
  }
  const inTree = new Set(roots);
  // Parents come before children often but not always: repeat until nothing is added.
  for (let grew = true; grew;) {
    grew = false;
    for (const p of all) {
      if (!inTree.has(p.pid) && inTree.has(p.ppid)) {
        inTree.add(p.pid);
        grew = true;
      }
    }
  }
  return all.filter((p) => inTree.has(p.pid) && labelOf(p) === label).map((p) => p.pid);
}

/**
 * CPU ticks so far, by label, of `roots` and their descendants, and of PostgreSQL and Redis. With
 * `database`, PostgreSQL is split: `postgresql` is that database's backends only (see postgresLabel);
 * with `roles`, by the role each backend serves instead (see postgresRoleLabel).
 */
export function cpuSnapshot(
  roots: number[],
  opts: { database?: string; roles?: boolean } = {},
): Map<string, number> {
  const all: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProc(Number(name));
    if (p) all.push(p);
  }
  const children = new Map<number, ProcInfo[]>();
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const picked = new Set<ProcInfo>();
  const walk = (pid: number): void => {
    for (const c of children.get(pid) ?? []) {
      picked.add(c);
      walk(c.pid);
    }
  };
  for (const root of roots) {
    const self = all.find((p) => p.pid === root);
    if (self) picked.add(self);
    walk(root);
  }
  for (const p of all) if (p.comm.startsWith('postgres') || p.comm.startsWith('redis-server')) picked.add(p);
  const out = new Map<string, number>();
  for (const p of picked) {
    const label = labelOf(p, opts.database, opts.roles);
    out.set(label, (out.get(label) ?? 0) + p.ticks);
  }
  return out;
}

/** Milliseconds of CPU per second of wall time, by label, between two snapshots. */
export function cpuBetween(
  before: Map<string, number>,
  after: Map<string, number>,
  seconds: number,
): [string, number][] {
  return [...after]
    .map(([label, t]): [string, number] => [
      label,
      ((t - (before.get(label) ?? 0)) * 1000) / TICKS_PER_SECOND / seconds,
    ])
    .filter(([, v]) => v > 0)
    .sort((x, y) => y[1] - x[1]);
}
