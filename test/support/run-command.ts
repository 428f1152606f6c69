/**
 * The run command (`make dev` / `make prod`: scripts/dev.ts) pointed at a test namespace: the
 * variables that put every platform process on the namespace's database, Redis prefix and free
 * ports, so a test or a benchmark can start the platform exactly as a user does, beside other test
 * files, and never on 8000-8006.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { processEnv, PROJECT_ROOT } from '../../lib/config.js';
import { signalChild } from '../../lib/process-signal.js';
import { ensureBuilt } from '../../scripts/build.js';
import { freePorts, type TestEnv } from './env.js';
import { eventually } from './wait.js';

/**
 * Environment for scripts/dev.ts on `env`'s namespace. `.env` is skipped (TRADESAGE_SKIP_DOTENV), run
 * files go to the namespace's tmpDir (DATA_DIR), and the nightly backup schedule is off.
 * @param extra more variables (they win)
 */
export async function runCommandEnv(
  env: TestEnv,
  extra: Record<string, string> = {},
): Promise<Record<string, string>> {
  const c = env.config;
  const [workerPort] = await freePorts(1);
  return {
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    TRADESAGE_SKIP_DOTENV: '1',
    DATA_DIR: env.tmpDir,
    DATABASE_URL: c.DATABASE_URL,
    DATABASE_OWNER_URL: c.DATABASE_OWNER_URL,
    DATABASE_ADMIN_URL: c.DATABASE_ADMIN_URL,
    REDIS_URL: c.REDIS_URL,
    REDIS_PREFIX: c.REDIS_PREFIX,
    BULLMQ_PREFIX: c.BULLMQ_PREFIX,
    SERVICE_TOKEN: c.SERVICE_TOKEN,
    JWT_KEYS_DIR: c.JWT_KEYS_DIR,
    GATEWAY_PORT: String(c.GATEWAY_PORT),
    AUTH_PORT: String(c.AUTH_PORT),
    SESSIONS_PORT: String(c.SESSIONS_PORT),
    TENANTS_PORT: String(c.TENANTS_PORT),
    TRADING_PORT: String(c.TRADING_PORT),
    MARKET_DATA_PORT: String(c.MARKET_DATA_PORT),
    ANALYTICS_PORT: String(c.ANALYTICS_PORT),
    TENANTS_WORKER_PORT: String(workerPort),
    SUPERGRAPH_WATCH: 'false',
    BACKUP_SCHEDULE_ENABLED: 'false',
    // The namespace's (0 in tests: no schemas built in the background); benchmarks pass the default.
    TENANT_POOL_SIZE: String(c.TENANT_POOL_SIZE),
    TRADING_DB_POOL_WARM: String(c.TRADING_DB_POOL_WARM),
    ...extra,
  };
}

/** The platform as the run command started it; see {@link startRunCommand}. */
export interface RunningCommand {
  child: ChildProcess;
  gatewayUrl: string;
  /** Everything it printed so far (for failure messages). */
  output(): string;
  /** Ctrl-C: SIGINT to the orchestrator, which stops every process it started; resolves on exit. */
  stop(): Promise<number | null>;
}

/**
 * How to start the orchestrator: `dist` as scripts/run.sh does (`node dist/dev.js`, its processes from
 * dist/, built here first when stale), or `tsx` as before the build step (orchestrator and processes
 * through tsx).
 */
export type RunCommandRunner = 'dist' | 'tsx';

/**
 * `command args` run with the open-file limit raised to `nofile` (capped at the hard limit): through
 * `bash -c 'ulimit -n ...; exec "$0" "$@"'`, since Node cannot raise its own limit. Benchmarks that hold
 * thousands of sockets start their processes this way; a deployment sets LimitNOFILE (docs/operations.md).
 */
export function withOpenFileLimit(
  command: string,
  args: readonly string[],
  nofile: number,
): [string, string[]] {
  const script = `ulimit -n ${nofile} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`;
  return ['bash', ['-c', script, command, ...args]];
}

/** The node arguments that start the orchestrator with `runner` (building dist/ when stale). */
export async function orchestratorArgs(runner: RunCommandRunner): Promise<string[]> {
  if (runner === 'tsx') return ['--import', 'tsx', 'scripts/dev.ts', '--runner=tsx', '--no-color'];
  await ensureBuilt();
  return ['dist/dev.js', '--no-color'];
}

/**
 * Starts the orchestrator with `vars` (from {@link runCommandEnv}) and waits until the gateway answers
 * /ready, i.e. it and every subgraph it composes are up (the processes start side by side, so the
 * gateway's /health alone says nothing about the others).
 */
export async function startRunCommand(
  vars: Record<string, string>,
  opts: { startTimeoutMs?: number; runner?: RunCommandRunner; nofile?: number } = {},
): Promise<RunningCommand> {
  const { PATH, HOME } = processEnv();
  const args = await orchestratorArgs(opts.runner ?? 'dist');
  // The orchestrator's limit is inherited by every process it starts.
  const [command, argv] = opts.nofile
    ? withOpenFileLimit(process.execPath, args, opts.nofile)
    : [process.execPath, args];
  const child = spawn(command, argv, {
    cwd: PROJECT_ROOT,
    env: { ...(PATH ? { PATH } : {}), ...(HOME ? { HOME } : {}), ...vars },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer): void => {
    out = (out + d.toString()).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const gatewayUrl = `http://127.0.0.1:${vars['GATEWAY_PORT']}`;
  try {
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`the run command exited early:\n${out}`);
        const res = await fetch(`${gatewayUrl}/ready`).catch(() => undefined);
        return res?.status === 200 ? true : undefined;
      },
      'the platform started by scripts/dev.ts',
      opts.startTimeoutMs ?? 240_000,
      500,
    );
  } catch (err) {
    signalChild(child, 'SIGINT');
    await exited;
    throw err;
  }
  return {
    child,
    gatewayUrl,
    output: () => out,
    async stop() {
      signalChild(child, 'SIGINT');
      return exited;
    },
  };
}
