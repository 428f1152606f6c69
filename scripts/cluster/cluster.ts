/**
 * Starts and supervises the processes of a {@link ClusterPlan}: Redis primary and replica, three
 * sentinels, PgBouncer, two replicas of every service and HAProxy, each a child in its own process
 * group with its output in `<root>/logs/<name>.log`. Used by `make cluster` (scripts/cluster.ts) and
 * the chaos tests, which kill single processes through {@link RunningCluster.kill}: only pids this
 * module spawned and still holds are ever signalled (lib/process-signal.ts).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  chownSync,
  constants,
  copyFileSync,
  createWriteStream,
  mkdirSync,
  writeFileSync,
  type WriteStream,
} from 'node:fs';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { processEnv, type Config } from '../../lib/config.js';
import { signalChild, signalChildGroup } from '../../lib/process-signal.js';
import { launchArgs, type Runner } from '../platform.js';
import { REPLICAS, type ClusterPlan, type ClusterProcess } from './topology.js';
import {
  haproxyConfig,
  pgbouncerConfig,
  pgbouncerUsers,
  redisConfig,
  sentinelConfig,
  type PgbouncerInput,
} from './tool-configs.js';
import { httpStatus } from '../http-status.js';
import { DEFAULT_JWT_KEYS_DIR } from '../../subgraphs/auth/src/config.js';
import { ensureSigningKeys } from '../../subgraphs/auth/src/keys.js';

/** Debian packages of the cluster's tools and the command each provides. */
export const CLUSTER_TOOLS: readonly { pkg: string; command: string }[] = [
  { pkg: 'haproxy', command: 'haproxy' },
  { pkg: 'pgbouncer', command: 'pgbouncer' },
  { pkg: 'redis-server', command: 'redis-server' },
  { pkg: 'redis-sentinel', command: 'redis-sentinel' },
];

const TOOL_DIRS = ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin'];

function findCommand(command: string): string | undefined {
  const dirs = [...(processEnv()['PATH'] ?? '').split(':'), ...TOOL_DIRS].filter(Boolean);
  for (const dir of dirs) {
    const candidate = path.join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Installs the missing tools with apt-get when running as root (as `make test` installs chromium);
 * returns the packages still missing.
 */
export function ensureClusterTools(say: (msg: string) => void = () => undefined): string[] {
  const missing = (): string[] => CLUSTER_TOOLS.filter((t) => !findCommand(t.command)).map((t) => t.pkg);
  const need = missing();
  if (need.length === 0) return [];
  if (process.getuid?.() !== 0 || !findCommand('apt-get')) return need;
  say(`installing ${need.join(' ')} (apt-get)`);
  const env = { ...processEnv(), DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env });
  spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...need], {
    stdio: 'ignore',
    env,
  });
  return missing();
}

/** One supervised process. */
export interface ClusterMember {
  proc: ClusterProcess;
  child: ChildProcess;
  /** Resolves once the process has exited and its output is flushed. */
  exited: Promise<void>;
  alive: boolean;
}

/** A cluster: {@link RunningCluster.start} it once; {@link RunningCluster.stop} works at any point. */
export interface RunningCluster {
  plan: ClusterPlan;
  /** Starts every process in plan order, waiting for each; stops what it started if one fails. */
  start(): Promise<void>;
  members: Map<string, ClusterMember>;
  /** The pid of a running member (for reports), undefined once it exited. */
  pidOf(name: string): number | undefined;
  /** Sends `signal` (default SIGKILL) to one member's process group and waits for it to exit. */
  kill(name: string, signal?: NodeJS.Signals): Promise<void>;
  /** Starts a member again (after {@link kill}) and waits until it answers. */
  restart(name: string): Promise<void>;
  /** Stops everything in reverse start order (SIGTERM, SIGKILL after `stopTimeoutMs`). */
  stop(): Promise<void>;
  /** SIGKILL to every running member's group, synchronously (for `process.on('exit')`). */
  killNow(): void;
  /** A table of every process with its port and pid. */
  table(): string;
  /** What a member wrote so far (its log file). */
  logOf(name: string): Promise<string>;
}

export interface StartClusterOptions {
  config: Config;
  plan: ClusterPlan;
  /** Environment of the Node processes (the plan's variables are added on top). */
  env: Record<string, string | undefined>;
  /** Called with every output line (e.g. to print warnings). */
  onLine?: (name: string, line: string, stderr: boolean) => void;
  /** Called when a member exits while the cluster is not stopping (chaos kills included). */
  onExit?: (name: string, code: number | null, signal: NodeJS.Signals | null) => void;
  startTimeoutMs?: number;
  stopTimeoutMs?: number;
  /** Node.js executable (tests: the one running them). */
  nodePath?: string;
  /**
   * How the Node processes run: their dist/ bundles (scripts/build.ts; built beforehand), as `make
   * prod`, the image and Kubernetes run them, or their sources through tsx.
   * @default 'dist'
   */
  runner?: Runner;
  /** Repository root (cwd of the Node processes). */
  cwd: string;
  /** Start only these processes (tests of one tool: e.g. Redis and the sentinels); default all. */
  only?: (proc: ClusterProcess) => boolean;
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    const done = (open: boolean): void => {
      socket.destroy();
      resolve(open);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

/** Uid and gid of a system user (PgBouncer refuses to run as root), undefined when absent. */
function systemUser(name: string): { uid: number; gid: number } | undefined {
  const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

function credentials(url: string): { name: string; password: string } {
  const u = new URL(url);
  return { name: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
}

/** Writes every tool's configuration under the plan's root; returns the command line of each tool process. */
function writeToolFiles(config: Config, plan: ClusterPlan): Map<string, string[]> {
  const root = plan.paths.root;
  const dir = (name: string): string => {
    const d = path.join(root, name);
    mkdirSync(d, { recursive: true });
    return d;
  };
  const commands = new Map<string, string[]>();
  for (const p of plan.processes) {
    if (p.kind === 'redis' || p.kind === 'sentinel') {
      const d = dir(p.name);
      const index = Number(p.name.split('-')[1]) - 1;
      const file = path.join(d, `${p.kind}.conf`);
      writeFileSync(file, p.kind === 'redis' ? redisConfig(plan, index, d) : sentinelConfig(plan, index, d));
      commands.set(p.name, [p.kind === 'redis' ? 'redis-server' : 'redis-sentinel', file]);
    }
  }
  const haproxyFile = path.join(dir('haproxy'), 'haproxy.cfg');
  writeFileSync(haproxyFile, haproxyConfig(plan));
  commands.set('haproxy', ['haproxy', '-db', '-f', haproxyFile]);

  // PgBouncer refuses to run as root: then it runs as `postgres` with its own copies of the files.
  const runDir = dir('pgbouncer');
  const copy = (from: string, name: string): string => {
    const to = path.join(runDir, name);
    copyFileSync(from, to);
    return to;
  };
  const input: PgbouncerInput = {
    runDir,
    certFile: copy(plan.paths.serverCert, 'server.crt'),
    keyFile: copy(plan.paths.serverKey, 'server.key'),
    caFile: copy(plan.paths.caCert, 'ca.crt'),
    authFile: path.join(runDir, 'userlist.txt'),
    serverHost: new URL(config.DATABASE_URL).hostname,
    serverPort: Number(new URL(config.DATABASE_URL).port || 5432),
    ownerRole: config.DATABASE_OWNER_ROLE,
    statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS,
  };
  writeFileSync(
    input.authFile,
    pgbouncerUsers([credentials(config.DATABASE_URL), credentials(config.DATABASE_OWNER_URL)]),
    {
      mode: 0o600,
    },
  );
  const ini = path.join(runDir, 'pgbouncer.ini');
  writeFileSync(ini, pgbouncerConfig(plan, input));
  const asUser = process.getuid?.() === 0 ? systemUser('postgres') : undefined;
  if (asUser) {
    for (const f of [runDir, input.certFile, input.keyFile, input.caFile, input.authFile, ini]) {
      chownSync(f, asUser.uid, asUser.gid);
    }
  }
  commands.set('pgbouncer', ['pgbouncer', ...(asUser ? ['-u', 'postgres'] : []), ini]);
  return commands;
}

/** A cluster of `plan`'s processes, not started yet (see {@link RunningCluster}). */
export function createCluster(opts: StartClusterOptions): RunningCluster {
  const { plan, config } = opts;
  const startTimeoutMs = opts.startTimeoutMs ?? 90_000;
  const stopTimeoutMs = opts.stopTimeoutMs ?? 10_000;
  const logs = path.join(plan.paths.root, 'logs');
  mkdirSync(logs, { recursive: true });
  let commands = new Map<string, string[]>();
  const members = new Map<string, ClusterMember>();
  const logStreams = new Map<string, WriteStream>();
  let stopping = false;

  const spawnMember = (proc: ClusterProcess): ClusterMember => {
    let child: ChildProcess;
    if (proc.kind === 'node') {
      child = spawn(opts.nodePath ?? process.execPath, launchArgs(proc.spec, opts.runner ?? 'dist'), {
        cwd: opts.cwd,
        env: { ...opts.env, ...plan.env, ...plan.replicaEnv(proc), FORCE_COLOR: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
    } else {
      const [command = '', ...args] = commands.get(proc.name) ?? [];
      child = spawn(findCommand(command) ?? command, args, {
        cwd: plan.paths.root,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
    }
    let log = logStreams.get(proc.name);
    if (!log) {
      log = createWriteStream(path.join(logs, `${proc.name}.log`), { flags: 'a' });
      logStreams.set(proc.name, log);
    }
    const out = log;
    let resolveExit: () => void = () => undefined;
    const member: ClusterMember = {
      proc,
      child,
      alive: true,
      exited: new Promise<void>((resolve) => {
        resolveExit = resolve;
      }),
    };
    for (const [stream, isErr] of [
      [child.stdout, false],
      [child.stderr, true],
    ] as const) {
      if (!stream) continue;
      readline.createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
        out.write(`${line}\n`);
        opts.onLine?.(proc.name, line, isErr);
      });
    }
    child.on('error', (err) => {
      out.write(`spawn error: ${err.message}\n`);
    });
    child.on('exit', (code, signal) => {
      member.alive = false;
      if (!stopping) opts.onExit?.(proc.name, code, signal);
    });
    child.on('close', () => resolveExit());
    members.set(proc.name, member);
    return member;
  };

  const waitUp = async (member: ClusterMember): Promise<void> => {
    const { proc } = member;
    const started = Date.now();
    for (;;) {
      if (!member.alive) {
        await member.exited;
        const tail = (await readFile(path.join(logs, `${proc.name}.log`), 'utf8').catch(() => ''))
          .split('\n')
          .slice(-6)
          .join('\n');
        throw new Error(`${proc.name} exited during start; its log ends with:\n${tail}`);
      }
      const up =
        proc.kind === 'node'
          ? (await httpStatus(`http://127.0.0.1:${proc.port}/health`)) === 200
          : await portOpen(proc.port);
      if (up) return;
      if (Date.now() - started > startTimeoutMs)
        throw new Error(`${proc.name} did not start within ${startTimeoutMs} ms`);
      await sleep(200);
    }
  };

  const stop = async (): Promise<void> => {
    stopping = true;
    for (const m of [...members.values()].reverse()) {
      if (!m.alive) continue;
      signalChild(m.child, 'SIGTERM');
      const timedOut = await Promise.race([
        m.exited.then(() => false),
        sleep(stopTimeoutMs).then(() => true),
      ]);
      if (timedOut && m.alive) {
        signalChildGroup(m.child, 'SIGKILL');
        await m.exited;
      }
    }
    await Promise.all([...logStreams.values()].map((s) => new Promise<void>((r) => s.end(r))));
  };

  const start = async (): Promise<void> => {
    commands = writeToolFiles(config, plan);
    // The auth replicas start together and each creates a signing key when the folder has none: two
    // keys, and for a while each replica's JWKS lacks the other's, so a verifier refuses the tokens
    // of one of them ("Invalid access token"). One key made here first, as `make setup` does.
    if (plan.processes.some((p) => p.kind === 'node' && p.service === 'auth')) {
      await ensureSigningKeys(opts.env['JWT_KEYS_DIR'] ?? DEFAULT_JWT_KEYS_DIR);
    }
    try {
      // Start in plan order; replicas of one service start together.
      const groups: ClusterProcess[][] = [];
      const key = (q: ClusterProcess): string => (q.kind === 'node' ? q.service : q.kind);
      for (const p of plan.processes.filter(opts.only ?? (() => true))) {
        const last = groups.at(-1);
        if (last?.[0] && key(last[0]) === key(p)) last.push(p);
        else groups.push([p]);
      }
      for (const group of groups) {
        if (stopping) throw new Error('stopped while starting');
        await Promise.all(group.map((p) => waitUp(spawnMember(p))));
      }
      if (members.has('haproxy'))
        await waitReady(`http://127.0.0.1:${plan.ports.entry}/ready`, startTimeoutMs);
    } catch (err) {
      await stop();
      throw err;
    }
  };

  return {
    plan,
    start,
    members,
    pidOf: (name) => {
      const m = members.get(name);
      return m?.alive ? m.child.pid : undefined;
    },
    async kill(name, signal = 'SIGKILL') {
      const m = members.get(name);
      if (!m?.alive) throw new Error(`${name} is not running`);
      signalChildGroup(m.child, signal);
      await m.exited;
    },
    async restart(name) {
      const m = members.get(name);
      if (!m) throw new Error(`unknown cluster process ${name}`);
      if (m.alive) throw new Error(`${name} is still running`);
      await waitUp(spawnMember(m.proc));
    },
    stop,
    killNow: () => {
      for (const m of members.values()) if (m.alive) signalChildGroup(m.child, 'SIGKILL');
    },
    table: () => clusterTable(plan, members),
    logOf: (name) => readFile(path.join(logs, `${name}.log`), 'utf8').catch(() => ''),
  };
}

async function waitReady(url: string, timeoutMs: number): Promise<void> {
  const started = Date.now();
  while ((await httpStatus(url)) !== 200) {
    if (Date.now() - started > timeoutMs) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
    await sleep(250);
  }
}

const REPLICAS_LABEL = `${REPLICAS} replicas, health-checked on /ready`;

/** The table `make cluster` prints: every process, its port and pid, and what it is. */
export function clusterTable(plan: ClusterPlan, members: Map<string, ClusterMember>): string {
  const what = (p: ClusterProcess): string => {
    switch (p.kind) {
      case 'haproxy':
        return `HAProxy entry (gateways), stats on :${plan.ports.haproxyStats}`;
      case 'pgbouncer':
        return 'PgBouncer (TLS; transaction pooling, owner role per session) -> PostgreSQL';
      case 'redis':
        return p.name === 'redis-1'
          ? 'Redis primary at start (TLS, AOF)'
          : 'Redis replica at start (TLS, AOF)';
      case 'sentinel':
        return `Redis Sentinel (TLS), monitors ${plan.sentinelName}`;
      case 'node':
        return p.service === 'gateway' || p.service === 'tenants-worker'
          ? `${p.service} replica`
          : `${p.service} replica, behind :${plan.ports.frontends[p.service] ?? '?'}`;
    }
  };
  const frontends = Object.entries(plan.ports.frontends).map(([service, port]) => [
    `  ${service}`,
    String(port),
    '',
    `HAProxy frontend of ${service} (${REPLICAS_LABEL})`,
  ]);
  const rows = plan.processes.map((p) => [
    p.name,
    String(p.port),
    String(members.get(p.name)?.child.pid ?? '-'),
    what(p),
  ]);
  const at = rows.findIndex((r) => r[0] === 'haproxy') + 1;
  rows.splice(at, 0, ...frontends);
  const head = ['process', 'port', 'pid', 'role'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
