/**
 * The platform's processes as the run command, `make health` and `make logs` see them: one list, in
 * start order. Each process starts as soon as the processes it calls at startup (`after`) answer
 * /health; the others start together. They run from the bundles scripts/build.ts writes to dist/
 * (`node dist/<name>.js`), or through tsx from their TypeScript entries.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { prettyFactory } from 'pino-pretty';
import { ConfigError, processEnv, PROJECT_ROOT, type Config } from '../lib/config.js';
import { loadPlatformConfig, type PlatformConfig } from './platform-config.js';

/** ANSI colours for name prefixes. */
export type Colour = 'cyan' | 'magenta' | 'yellow' | 'blue' | 'green' | 'red' | 'gray';

const ANSI: Record<Colour, number> = {
  red: 31,
  green: 32,
  yellow: 33,
  blue: 34,
  magenta: 35,
  cyan: 36,
  gray: 90,
};

/** Wraps text in an ANSI colour (or returns it unchanged when colour is off). */
export function paint(text: string, colour: Colour, on: boolean, bold = false): string {
  if (!on) return text;
  return `\u001b[${bold ? '1;' : ''}${ANSI[colour]}m${text}\u001b[0m`;
}

/**
 * Node flags of every platform process (the Dockerfile sets the same through NODE_OPTIONS). A young
 * generation of 32 MB semi-spaces instead of 16: request handling allocates short-lived objects, and
 * fewer scavenges cut the services' CPU per request by 12-15 % in the orders benchmark (BENCHMARKS.md),
 * for a few tens of MB more resident memory per process.
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=32'];

/** One process of the platform. */
export interface PlatformProcess {
  /** Also the log file name: `data/logs/<name>.log`. */
  name: string;
  /** Entry module, relative to the repository root; started through tsx by `launchArgs`. */
  entry: string;
  /** Its bundle (scripts/build.ts), relative to the repository root; started as `node <dist>`. */
  dist: string;
  /** Port of its /health, /ready and /metrics. */
  port: number;
  colour: Colour;
  /** Processes (by name, earlier in the list) it calls at startup: it starts once they answer /health. */
  after: readonly string[];
}

/**
 * Every process, in start order and the reverse of stop order. Only trading calls another service
 * when it starts (market-data's instrument catalog); auth calls sessions and tenants per request, and
 * the gateway reads the static supergraph from disk, its /ready saying when every subgraph answers.
 * So everything else starts at once, and the gateway stays last in the list (stopped first).
 */
export function platformProcesses(config: Config): PlatformProcess[] {
  const p = (
    name: string,
    entry: string,
    port: number,
    colour: Colour,
    after: readonly string[] = [],
  ): PlatformProcess => ({ name, entry, dist: distOf(name), port, colour, after });
  return [
    p('sessions', 'subgraphs/sessions/src/index.ts', config.SESSIONS_PORT, 'cyan'),
    p('auth', 'subgraphs/auth/src/index.ts', config.AUTH_PORT, 'magenta'),
    p('tenants', 'subgraphs/tenants/src/index.ts', config.TENANTS_PORT, 'yellow'),
    p('tenants-worker', 'subgraphs/tenants/src/worker.ts', config.tenantsWorkerPort, 'blue'),
    p('market-data', 'subgraphs/market-data/src/index.ts', config.MARKET_DATA_PORT, 'red'),
    p('trading', 'subgraphs/trading/src/index.ts', config.TRADING_PORT, 'cyan', ['market-data']),
    p('analytics', 'subgraphs/analytics/src/index.ts', config.ANALYTICS_PORT, 'magenta'),
    p('gateway', 'gateway/src/index.ts', config.GATEWAY_PORT, 'green'),
  ];
}

/** Where scripts/build.ts writes the bundle of a process or script named `name`. */
export function distOf(name: string): string {
  return `dist/${name}.js`;
}

/**
 * Scripts bundled beside the processes: what scripts/run.sh runs before the orchestrator, and the
 * orchestrator itself. dist/ sits one level below the root, like every source folder, which
 * scripts/build.ts relies on.
 */
export const SCRIPT_ENTRIES: readonly { name: string; entry: string }[] = [
  { name: 'setup', entry: 'scripts/setup.ts' },
  { name: 'db-init', entry: 'scripts/db-init.ts' },
  { name: 'dev', entry: 'scripts/dev.ts' },
];

/**
 * Modules every process imports before its entry (`--import`), e.g. instrumentation that must load
 * first. tsx imports `entry`; dist/<name>.js runs the bundle of `bundleEntry`, which cannot await at
 * its top level (a CommonJS bundle): it exports a `ready` promise, which the launcher awaits.
 */
export const SERVICE_PRELOADS: readonly { name: string; entry: string; bundleEntry: string }[] = [
  // Starts OpenTelemetry before the entry's imports load when OTEL_EXPORTER_OTLP_ENDPOINT is set.
  { name: 'telemetry', entry: 'lib/telemetry.register.ts', bundleEntry: 'lib/telemetry.start.ts' },
];

/** How the run command starts processes: their bundles in dist/, or their sources through tsx. */
export type Runner = 'dist' | 'tsx';

/**
 * The node arguments that start `p` (after the executable). From dist, without
 * `--enable-source-maps`: the launcher maps stack traces through its bundle's source map itself
 * (scripts/run-bundle.ts), so they name the .ts files as tsx's do, and Node need not read the maps
 * of every external package at start.
 */
export function launchArgs(p: Pick<PlatformProcess, 'entry' | 'dist'>, runner: Runner): string[] {
  if (runner === 'tsx') {
    return [...SERVICE_NODE_FLAGS, '--import', 'tsx', ...preloadArgs('tsx'), p.entry];
  }
  return [...SERVICE_NODE_FLAGS, ...preloadArgs('dist'), p.dist];
}

/** `--import` arguments of the preloads (their sources for tsx, their bundles otherwise). */
export function preloadArgs(runner: Runner): string[] {
  return SERVICE_PRELOADS.flatMap((m) => [
    '--import',
    runner === 'tsx' ? `./${m.entry}` : `./${distOf(m.name)}`,
  ]);
}

/** Where the run command writes a process's raw log lines. */
export function logFile(config: Pick<Config, 'DATA_DIR'>, name: string): string {
  return path.join(path.resolve(PROJECT_ROOT, config.DATA_DIR), 'logs', `${name}.log`);
}

/**
 * A formatter for one process's output: pino JSON lines become readable single lines (pino-pretty,
 * errors with their stack below), anything else passes through; every line gets the coloured name.
 */
export function createLineFormatter(
  name: string,
  colour: Colour,
  opts: { colour: boolean; width: number; stderr?: boolean },
): (line: string) => string {
  const pretty = prettyFactory({
    colorize: opts.colour,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service',
    singleLine: true,
  });
  const prefix = `${paint(name.padEnd(opts.width), colour, opts.colour)} ${paint('│', 'gray', opts.colour)} `;
  return (line: string): string => {
    let text = line;
    if (line.startsWith('{')) {
      try {
        JSON.parse(line);
        text = pretty(line).replace(/\n+$/, '');
      } catch {
        // Not JSON after all: print as is.
      }
    } else if (opts.stderr) {
      text = paint(line, 'red', opts.colour);
    }
    return text
      .split('\n')
      .map((l) => prefix + l)
      .join('\n');
  };
}

/**
 * Configuration for tools that only read ports and URLs (`make health`, `make logs`, `make db-shell`):
 * they must work before `make setup` created SERVICE_TOKEN, e.g. against a compose stack, so a
 * missing or placeholder token is replaced by a throwaway value that never leaves this process.
 */
export function loadToolConfig(): PlatformConfig {
  try {
    return loadPlatformConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return loadPlatformConfig({ ...processEnv(), SERVICE_TOKEN: randomBytes(32).toString('hex') });
  }
}
