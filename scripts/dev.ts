/**
 * The run command's orchestrator (`make dev`, `make prod`): starts every process of the platform
 * (scripts/platform.ts) as a child, `node dist/<name>.js` (rebuilt first when stale) or with
 * `--runner=tsx` `node --import tsx <entry>`, each as soon as what it calls at startup answers /health,
 * prefixes and prettifies their logs (raw JSON also goes to data/logs/<name>.log), and on Ctrl-C /
 * SIGTERM stops them in reverse list order: SIGTERM, then SIGKILL after a timeout. If a child dies on
 * its own, everything else is stopped and the exit code is 1. Preparation (npm ci, setup, db-init) is
 * done before this runs, by scripts/run.sh.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, renameSync, statSync, type WriteStream } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { processEnv, PROJECT_ROOT, type Config } from '../lib/config.js';
import { loadPlatformConfigOrExit } from './platform-config.js';
import { signalChild, signalChildGroup } from '../lib/process-signal.js';
import { startDevMa130, type DevMa130 } from '../ops/ma130/dev-ma130.js';
import { ensureBuilt } from './build.js';
import {
  createLineFormatter,
  launchArgs,
  logFile,
  paint,
  platformProcesses,
  type PlatformProcess,
  type Runner,
} from './platform.js';
import { httpStatus } from './http-status.js';

interface Options {
  startTimeoutMs: number;
  stopTimeoutMs: number;
  colour: boolean;
  runner: Runner;
}

interface Running {
  spec: PlatformProcess;
  child: ChildProcess;
  log: WriteStream;
  exited: Promise<void>;
  alive: boolean;
}

const LOG_ROTATE_BYTES = 10 * 1024 * 1024;
/** How often a starting process's /health (then /ready) is asked: little added wait, little CPU taken. */
const POLL_MS = 100;
/** How long, once every process is up, the summary waits for every /ready (e.g. the gateway's subgraphs). */
const READY_WAIT_MS = 30_000;

function parseOptions(argv: string[]): Options {
  const num = (flag: string, fallback: number): number => {
    const arg = argv.find((a) => a.startsWith(`--${flag}=`));
    const value = arg ? Number(arg.split('=')[1]) : fallback;
    if (!Number.isFinite(value) || value <= 0) throw new Error(`--${flag} must be a positive number of ms`);
    return value;
  };
  const env = processEnv();
  const runner = argv.find((a) => a.startsWith('--runner='))?.split('=')[1] ?? 'dist';
  if (runner !== 'dist' && runner !== 'tsx') throw new Error('--runner must be dist or tsx');
  return {
    runner,
    startTimeoutMs: num('start-timeout', 90_000),
    stopTimeoutMs: num('stop-timeout', 10_000),
    colour:
      !argv.includes('--no-color') &&
      env['NO_COLOR'] === undefined &&
      (process.stdout.isTTY || env['FORCE_COLOR'] !== undefined),
  };
}

/** True when something accepts connections on 127.0.0.1:port. */
function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

function openLog(config: Config, name: string): WriteStream {
  const file = logFile(config, name);
  mkdirSync(path.dirname(file), { recursive: true });
  // Keep one previous generation so a long-lived dev machine's logs stay bounded.
  if (existsSync(file) && statSync(file).size > LOG_ROTATE_BYTES) renameSync(file, `${file}.1`);
  return createWriteStream(file, { flags: 'a' });
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const config = loadPlatformConfigOrExit();
  const mode = config.isProduction ? 'production' : config.NODE_ENV;
  const specs = platformProcesses(config);
  const width = Math.max(...specs.map((s) => s.name.length), 'dev'.length);
  const say = (msg: string, colour: 'green' | 'red' | 'yellow' | 'cyan' = 'cyan'): void => {
    console.log(
      `${paint('dev'.padEnd(width), colour, opts.colour, true)} ${paint('│', 'gray', opts.colour)} ${msg}`,
    );
  };
  const shout = (msg: string): void => {
    const bar = paint('!'.repeat(78), 'red', opts.colour, true);
    console.error(`\n${bar}\n${paint(`  ${msg}`, 'red', opts.colour, true)}\n${bar}\n`);
  };

  const running: Running[] = [];
  let stopping: Promise<never> | undefined;
  let ma130: DevMa130 | undefined;

  const stopAll = (exitCode: number, reason: string): Promise<never> => {
    stopping ??= (async (): Promise<never> => {
      say(`stopping (${reason})`, exitCode === 0 ? 'yellow' : 'red');
      // Reverse list order (the gateway first), whatever order the processes came up in.
      const order = (r: Running): number => specs.indexOf(r.spec);
      for (const r of [...running].sort((a, b) => order(b) - order(a))) {
        if (!r.alive) continue;
        say(`stopping ${r.spec.name} (SIGTERM)`, 'yellow');
        signalChild(r.child, 'SIGTERM');
        const timedOut = await Promise.race([
          r.exited.then(() => false),
          sleep(opts.stopTimeoutMs).then(() => true),
        ]);
        if (timedOut && r.alive) {
          say(`${r.spec.name} did not stop within ${opts.stopTimeoutMs} ms: SIGKILL`, 'red');
          killGroup(r, 'SIGKILL');
          await r.exited;
        }
      }
      await Promise.all(running.map((r) => new Promise<void>((resolve) => r.log.end(resolve))));
      if (ma130?.sshd) {
        say('stopping the development MA130 (sshd)', 'yellow');
        await ma130.stop().catch(() => undefined);
      }
      say(
        exitCode === 0 ? 'all processes stopped' : 'all processes stopped after a failure',
        exitCode ? 'red' : 'green',
      );
      process.exit(exitCode);
    })();
    return stopping;
  };

  // Each child leads its own process group (spawned detached), so this also reaches anything it
  // spawned; the helper refuses once the child has exited (the group id may then be reused).
  const killGroup = (r: Running, signal: NodeJS.Signals): void => {
    signalChildGroup(r.child, signal);
  };

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) {
      shout(`${signal} again: killing every process now`);
      for (const r of running) if (r.alive) killGroup(r, 'SIGKILL');
      process.exit(1);
    }
    void stopAll(0, `received ${signal}`);
  };
  // A closed stdout (`make dev | head`) must not take the platform down; the log files still get
  // every line.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  // Last resort if this process dies abruptly: children run in their own process groups and would
  // otherwise outlive it.
  process.on('exit', () => {
    for (const r of running) if (r.alive) killGroup(r, 'SIGKILL');
    // Synchronous here (no event loop left): SIGKILL to the sshd if it still runs, nothing otherwise.
    void ma130?.sshd?.kill();
  });

  say(`starting TradeSage (${mode}): ${specs.map((s) => s.name).join(' → ')}`);
  const env: Record<string, string | undefined> = { ...processEnv(), FORCE_COLOR: '0' };

  // Backups work out of the box: without a configured MA130 (no pinned host key), development starts
  // a real OpenSSH server on 127.0.0.1 with its files under data/ma130 and points the services at it.
  // Production never does: there, an unconfigured MA130 makes backup jobs fail with a clear error.
  if (!config.isProduction) {
    try {
      ma130 = await startDevMa130(config);
      Object.assign(env, ma130.env);
      if (ma130.sshd) {
        say(
          `development MA130: sshd on ${ma130.sshd.host}:${ma130.sshd.port} (user ${ma130.sshd.username}), backups in ${path.relative(PROJECT_ROOT, ma130.env['MA130_BACKUP_PATH'] ?? '')}`,
        );
      }
    } catch (err) {
      say(
        `development MA130 not started (${err instanceof Error ? err.message : String(err)}): backups will fail until an MA130 is configured`,
        'yellow',
      );
    }
  }

  const inUse = (await Promise.all(specs.map(async (s) => ((await portInUse(s.port)) ? [s] : [])))).flat();
  if (inUse.length > 0) {
    shout(
      `port(s) ${inUse.map((s) => `${s.port} (${s.name})`).join(', ')} already in use: is another \`make dev\` or compose stack running?`,
    );
    await stopAll(1, 'port in use');
  }
  if (opts.runner === 'dist') {
    try {
      say(await ensureBuilt());
    } catch (err) {
      shout(`the build failed: ${err instanceof Error ? err.message : String(err)}`);
      await stopAll(1, 'build failed');
    }
  }

  const launch = (spec: PlatformProcess): Running => {
    const format = createLineFormatter(spec.name, spec.colour, { colour: opts.colour, width });
    const formatErr = createLineFormatter(spec.name, spec.colour, {
      colour: opts.colour,
      width,
      stderr: true,
    });
    const log = openLog(config, spec.name);
    const child = spawn(process.execPath, launchArgs(spec, opts.runner), {
      cwd: PROJECT_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group: the terminal's Ctrl-C reaches only this orchestrator, which then stops the
      // children one by one in reverse order instead of all at once.
      detached: true,
    });
    let resolveExit: () => void = () => undefined;
    const r: Running = {
      spec,
      child,
      log,
      alive: true,
      exited: new Promise<void>((resolve) => {
        resolveExit = resolve;
      }),
    };
    running.push(r);
    for (const [stream, fmt] of [
      [child.stdout, format],
      [child.stderr, formatErr],
    ] as const) {
      if (!stream) continue;
      readline.createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
        if (!log.writableEnded) log.write(`${line}\n`);
        console.log(fmt(line));
      });
    }
    child.on('error', (err) => {
      shout(`${spec.name} could not be started: ${err.message}`);
    });
    // 'close' comes after the output pipes drained, so no log line is lost before the file closes.
    child.on('close', () => resolveExit());
    child.on('exit', (code, signal) => {
      r.alive = false;
      if (!stopping) {
        shout(
          `${spec.name} exited unexpectedly (${signal ? `signal ${signal}` : `exit code ${String(code)}`})`,
        );
        void stopAll(1, `${spec.name} died`);
      } else {
        say(`${spec.name} stopped (${signal ? `signal ${signal}` : `exit code ${String(code)}`})`);
      }
    });
    return r;
  };

  /** Resolves true once `route` answers 200, false when the process died or everything is stopping. */
  const answers = async (r: Running, route: '/health' | '/ready', timeoutMs: number): Promise<boolean> => {
    const url = `http://127.0.0.1:${r.spec.port}${route}`;
    const since = Date.now();
    for (;;) {
      if (stopping || !r.alive) return false;
      if ((await httpStatus(url)) === 200) return true;
      if (Date.now() - since > timeoutMs) {
        if (route === '/ready') return false;
        shout(`${r.spec.name} did not answer ${url} within ${opts.startTimeoutMs} ms`);
        await stopAll(1, `${r.spec.name} did not start`);
      }
      await sleep(POLL_MS);
    }
  };

  // Each process starts once those it calls at startup answer /health (platform.ts `after`).
  const t0 = Date.now();
  const healthy = new Map<string, Promise<Running | undefined>>();
  for (const spec of specs) {
    const deps = spec.after.flatMap((name) => healthy.get(name) ?? []);
    healthy.set(
      spec.name,
      Promise.all(deps).then(async (ready) => {
        if (stopping || ready.some((d) => d === undefined)) return undefined;
        const r = launch(spec);
        const started = Date.now();
        if (!(await answers(r, '/health', opts.startTimeoutMs))) return undefined;
        say(
          `${paint('✔', 'green', opts.colour)} ${spec.name} is up on :${spec.port} (${Date.now() - started} ms)`,
          'green',
        );
        return r;
      }),
    );
  }
  const up = await Promise.all(healthy.values());
  if (stopping || up.some((r) => r === undefined)) return;
  // /ready also waits for the gateway to reach every subgraph; bounded, so a missing dependency
  // (Redis down) still prints the summary below with the processes that are not ready.
  const ready = await Promise.all(
    up.map(async (r) => (r && !(await answers(r, '/ready', READY_WAIT_MS)) ? [r.spec.name] : [])),
  );
  if (stopping) return;
  const notReady = ready.flat();
  say(`started in ${Date.now() - t0} ms (${opts.runner === 'dist' ? 'node dist/' : 'tsx'})`, 'green');
  const g = `http://localhost:${config.GATEWAY_PORT}`;
  const col = (label: string): string => `  ${label.padEnd(width + 1)}`;
  const lines = [
    '',
    `TradeSage is running (${mode}). Ctrl-C stops everything.`,
    '',
    `${col('GraphQL')}${g}/graphql   (HTTP and graphql-ws)`,
    `${col('GraphiQL')}${g}/graphiql`,
    ...specs.map((s) => `${col(s.name)}http://localhost:${s.port}   /health /ready /metrics`),
    `${col('JWKS')}http://localhost:${config.AUTH_PORT}/.well-known/jwks.json`,
    `${col('REST')}http://localhost:${config.TENANTS_PORT}/api/v1/tenants/provision`,
    `${col('logs')}${path.relative(PROJECT_ROOT, logFile(config, '<name>'))}   (make logs, make auth-logs, make tenant-logs)`,
    '',
  ];
  for (const l of lines) say(l, 'green');
  if (notReady.length > 0) say(`not ready yet (see /ready): ${notReady.join(', ')}`, 'yellow');
  await new Promise<never>(() => undefined);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
