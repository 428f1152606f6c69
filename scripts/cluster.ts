/**
 * `make cluster`: the production topology on one machine (issue 12), with the same code and the same
 * configuration variables as `make dev`: HAProxy on GATEWAY_PORT in front of two gateways, two
 * replicas of every subgraph behind an HAProxy frontend each, two tenants workers, PgBouncer in front
 * of PostgreSQL, Redis primary + replica + three sentinels, TLS from the local CA of `make setup`.
 * Generated files, data and logs go to data/cluster/. Ctrl-C stops everything.
 */
import path from 'node:path';
import { processEnv, PROJECT_ROOT } from '../lib/config.js';
import { loadPlatformConfigOrExit } from './platform-config.js';
import { startDevMa130, type DevMa130 } from '../ops/ma130/dev-ma130.js';
import { ensureBuilt } from './build.js';
import { clusterTable, createCluster, ensureClusterTools } from './cluster/cluster.js';
import { defaultClusterPaths, planCluster } from './cluster/topology.js';
import { paint } from './platform.js';

const colour = process.stdout.isTTY && processEnv()['NO_COLOR'] === undefined;
const say = (msg: string, c: 'cyan' | 'green' | 'yellow' | 'red' = 'cyan'): void => {
  console.log(`${paint('cluster', c, colour, true)} ${paint('│', 'gray', colour)} ${msg}`);
};

/** What a line is worth on the terminal: pino warnings and errors in one line, tools' complaints; else nothing. */
function noteworthy(line: string, stderr: boolean): string | undefined {
  if (line.startsWith('{')) {
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } };
      if ((entry.level ?? 0) < 40) return undefined;
      return `${entry.msg ?? ''}${entry.err?.message ? `: ${entry.err.message}` : ''}`;
    } catch {
      // not JSON after all
    }
  }
  return stderr && /warn|error|fatal|alert|panic/i.test(line) ? line : undefined;
}

async function main(): Promise<void> {
  const config = loadPlatformConfigOrExit();
  const missing = ensureClusterTools(say);
  if (missing.length > 0) {
    say(`missing Debian packages: ${missing.join(' ')} (apt-get install them as root)`, 'red');
    process.exit(1);
  }
  // The services run from their bundles, as in `make prod` (scripts/run.sh built them already).
  say(await ensureBuilt());
  const keysDir = path.join(PROJECT_ROOT, 'keys');
  const paths = defaultClusterPaths(path.resolve(PROJECT_ROOT, config.DATA_DIR), keysDir);
  const plan = planCluster(config, paths);
  const env: Record<string, string | undefined> = { ...processEnv() };

  let ma130: DevMa130 | undefined;
  if (!config.isProduction) {
    ma130 = await startDevMa130(config).catch((err: unknown) => {
      say(`development MA130 not started (${err instanceof Error ? err.message : String(err)})`, 'yellow');
      return undefined;
    });
    Object.assign(env, ma130?.env ?? {});
  }

  say(
    `starting ${plan.processes.length} processes (logs in ${path.relative(PROJECT_ROOT, paths.root)}/logs)`,
  );
  let up = false;
  const cluster = createCluster({
    config,
    plan,
    env,
    cwd: PROJECT_ROOT,
    onLine: (name, line, stderr) => {
      // HAProxy reports every replica DOWN until it has started: only news after that matters.
      const text = name === 'haproxy' && !up ? undefined : noteworthy(line, stderr);
      if (text !== undefined) console.log(`${paint(name.padEnd(18), 'gray', colour)} ${text}`);
    },
    onExit: (name, code, signal) => {
      say(`${name} exited (${signal ?? `code ${String(code)}`}); the others keep serving`, 'red');
    },
  });
  let stopping = false;
  const shutdown = async (code: number, reason: string): Promise<never> => {
    if (!stopping) {
      stopping = true;
      say(`stopping (${reason})`, code === 0 ? 'yellow' : 'red');
      await cluster.stop();
      await ma130?.stop().catch(() => undefined);
      say('all processes stopped', code === 0 ? 'green' : 'red');
    }
    process.exit(code);
  };
  // Last resort if this process dies abruptly: the members run in their own process groups.
  process.on('exit', () => cluster.killNow());
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => void shutdown(0, `received ${signal}`));
  }

  await cluster.start().catch(async (err: unknown) => {
    say(err instanceof Error ? err.message : String(err), 'red');
    return shutdown(1, 'start failed');
  });

  up = true;
  console.log(`\n${clusterTable(plan, cluster.members)}\n`);
  say(`TradeSage cluster is up: http://localhost:${plan.ports.entry}/graphql (HTTP and graphql-ws)`, 'green');
  say(`HAProxy stats: http://localhost:${plan.ports.haproxyStats}/   Ctrl-C stops everything.`, 'green');
  await new Promise<never>(() => undefined);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
