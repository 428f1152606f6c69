/**
 * The benches' child processes: each service under test runs in a process of its own (so its CPU and
 * memory can be read), started as `node <SERVICE_NODE_FLAGS> --import tsx <bench script> <args>`, as the
 * platform starts its processes. The child announces
 * `ready` on stdout once its service listens, answers CPU-usage requests over IPC, and stops its
 * service on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { SERVICE_NODE_FLAGS } from '../scripts/platform.js';
import { withOpenFileLimit } from '../test/support/run-command.js';

/** What {@link spawnBenchChild} starts. */
export interface BenchChildOptions {
  /** The bench script's own path (`fileURLToPath(import.meta.url)`). */
  script: string;
  /** Arguments after the script. */
  args: readonly string[];
  /** Node flags before `--import tsx` (e.g. `--cpu-prof`). */
  nodeFlags?: readonly string[];
  /**
   * The preloads: `['--import', 'tsx']`, or tsx then the platform's preloads (SERVICE_PRELOADS:
   * telemetry) to measure a process exactly as the platform starts it. @default ['--import', 'tsx']
   */
  imports?: readonly string[];
  /** Name for the error when the child exits before it is ready. */
  name: string;
  /**
   * Run with NODE_ENV=production, as deployed (Dockerfile, compose, k8s): graphql-js reads NODE_ENV from
   * the process environment, not from the config the child is given, and development mode adds checks
   * to every type test. @default true
   */
  production?: boolean;
  /** Open-file limit of the child (for thousands of sockets); the inherited one when unset. */
  nofile?: number;
  /** More environment variables. */
  env?: Readonly<Record<string, string>>;
}

/** Starts a child and resolves once it printed `ready`. */
export function spawnBenchChild(opts: BenchChildOptions): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const args = [
      ...SERVICE_NODE_FLAGS,
      ...(opts.nodeFlags ?? []),
      ...(opts.imports ?? ['--import', 'tsx']),
      opts.script,
      ...opts.args,
    ];
    const [command, argv] = opts.nofile
      ? withOpenFileLimit(process.execPath, args, opts.nofile)
      : [process.execPath, args];
    const proc = spawn(command, argv, {
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
      env: {
        ...process.env,
        ...(opts.production === false ? {} : { NODE_ENV: 'production' }),
        ...opts.env,
      },
    });
    proc.once('exit', (code) => reject(new Error(`${opts.name} exited early (${code})`)));
    proc.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve(proc);
    });
  });
}

/** In a child: answers every IPC message with the CPU time (µs) used so far. */
export function answerCpuRequests(): void {
  process.on('message', () => {
    const u = process.cpuUsage();
    process.send?.(u.user + u.system);
  });
}

/** CPU time (µs) a child (see {@link answerCpuRequests}) has used so far. */
export function cpuOf(proc: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    proc.once('message', (m) => resolve(Number(m)));
    proc.send('cpu');
  });
}

/**
 * CPU time (µs) used so far by every PostgreSQL server process of this machine (Linux /proc; 0
 * elsewhere): the database's share of a benchmark, read before and after it.
 */
export async function postgresCpu(): Promise<number> {
  const ticksPerSecond = 100; // USER_HZ on Linux
  let total = 0;
  const pids = await readdir('/proc').catch(() => [] as string[]);
  for (const pid of pids) {
    if (!/^\d+$/.test(pid)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const close = stat.lastIndexOf(')');
    if (close < 0 || !stat.slice(stat.indexOf('(') + 1, close).startsWith('postgres')) continue;
    const f = stat.slice(close + 2).split(' ');
    total += Number(f[11]) + Number(f[12]);
  }
  return (total * 1_000_000) / ticksPerSecond;
}
