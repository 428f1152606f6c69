/**
 * The platform's processes as the run command, `make health` and `make logs` see them: one list, in
 * start order (a service starts after what it calls at startup). Later issues add their services
 * here (trading, market data, analytics and their workers).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { prettyFactory } from 'pino-pretty';
import { ConfigError, loadConfig, processEnv, PROJECT_ROOT, type Config } from '../lib/config.js';

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

/**
 * Modules every platform process preloads, in order: tsx (TypeScript), then lib/telemetry.register.ts,
 * which starts OpenTelemetry before the entry's imports load when OTEL_EXPORTER_OTLP_ENDPOINT is set.
 * The Dockerfile, docker-compose.yml and ops/k8s spell the same arguments.
 */
export const SERVICE_IMPORTS: readonly string[] = [
  '--import',
  'tsx',
  '--import',
  './lib/telemetry.register.ts',
];

/** One process of the platform. */
export interface PlatformProcess {
  /** Also the log file name: `data/logs/<name>.log`. */
  name: string;
  /** Entry module, relative to the repository root; started as `node <SERVICE_IMPORTS> <entry>`. */
  entry: string;
  /** Port of its /health, /ready and /metrics. */
  port: number;
  colour: Colour;
  /**
   * Part of the spine (issue 2): its entry must exist. The others (later issues) are started when
   * their entry exists in the checkout and reported as "not built yet" otherwise.
   */
  core: boolean;
}

/**
 * Every process in start order: a process starts after those it calls at startup, and the gateway,
 * which plans queries across all subgraphs, starts last.
 */
export function platformProcesses(config: Config): PlatformProcess[] {
  const p = (name: string, entry: string, port: number, colour: Colour, core: boolean): PlatformProcess => ({
    name,
    entry,
    port,
    colour,
    core,
  });
  return [
    p('sessions', 'subgraphs/sessions/src/index.ts', config.SESSIONS_PORT, 'cyan', true),
    p('auth', 'subgraphs/auth/src/index.ts', config.AUTH_PORT, 'magenta', true),
    p('tenants', 'subgraphs/tenants/src/index.ts', config.TENANTS_PORT, 'yellow', true),
    p('tenants-worker', 'subgraphs/tenants/src/worker.ts', config.tenantsWorkerPort, 'blue', true),
    p('market-data', 'subgraphs/market-data/src/index.ts', config.MARKET_DATA_PORT, 'red', false),
    p('trading', 'subgraphs/trading/src/index.ts', config.TRADING_PORT, 'cyan', false),
    p('analytics', 'subgraphs/analytics/src/index.ts', config.ANALYTICS_PORT, 'magenta', false),
    p('gateway', 'gateway/src/index.ts', config.GATEWAY_PORT, 'green', true),
  ];
}

/** What the run command starts: the spine, plus later issues' processes present in this checkout. */
export function processesToStart(config: Config): PlatformProcess[] {
  return platformProcesses(config).filter((proc) => proc.core || isBuilt(proc));
}

/** True when the process's entry module exists in this checkout. */
export function isBuilt(p: PlatformProcess): boolean {
  return existsSync(path.join(PROJECT_ROOT, p.entry));
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
export function loadToolConfig(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return loadConfig({ ...processEnv(), SERVICE_TOKEN: randomBytes(32).toString('hex') });
  }
}
