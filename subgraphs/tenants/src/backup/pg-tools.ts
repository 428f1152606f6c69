/**
 * pg_dump and psql as child processes. The password (if any) travels in `PGPASSWORD`, never on the
 * command line, where `ps` would show it to every user of the machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { processEnv } from '../../../../lib/config.js';

const execFileAsync = promisify(execFile);

/** Where the PostgreSQL client tools are (`PG_BIN_DIR`, or the PATH). */
export function pgTool(binDir: string | undefined, tool: 'pg_dump' | 'psql'): string {
  return binDir ? path.join(binDir, tool) : tool;
}

/** A libpq connection string without its password, plus the environment carrying the password. */
export function libpqConnection(url: string): { dbname: string; env: Record<string, string> } {
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  u.password = '';
  const env: Record<string, string> = {};
  if (password) env['PGPASSWORD'] = password;
  return { dbname: u.toString(), env };
}

/** The environment of a child tool: ours, plus `extra`, with no stray PG* settings of the caller. */
function childEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(processEnv())) {
    // PGOPTIONS, PGSERVICE etc. of the shell could silently change what the tool does.
    if (v !== undefined && !k.startsWith('PG')) env[k] = v;
  }
  return { ...env, ...extra };
}

/** Keeps the last bytes of a child's stderr for error messages. */
export function stderrTail(child: ChildProcess, max = 4096): () => string {
  let tail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    tail = (tail + d).slice(-max);
  });
  return () => tail.trim();
}

/** Resolves with the exit code (or the signal name) once the process exited. */
export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      return resolve({ code: child.exitCode, signal: child.signalCode });
    }
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

/** Options of {@link spawnPgDump}. */
export interface PgDumpOptions {
  url: string;
  schema: string;
  /** A snapshot exported by a transaction that stays open until the dump has finished. */
  snapshot?: string | undefined;
  lockWaitTimeoutMs: number;
  binDir?: string | undefined;
}

/**
 * Starts `pg_dump --schema=<schema>` in plain SQL format, writing to its stdout. Owner and privileges
 * are kept (so a restore reproduces the grants), `--lock-wait-timeout` bounds the wait for the
 * tables' ACCESS SHARE locks (a long migration DDL makes the dump fail and retry, not hang).
 */
export function spawnPgDump(opts: PgDumpOptions): ChildProcess {
  const conn = libpqConnection(opts.url);
  const args = [
    '--format=plain',
    '--encoding=UTF8',
    '--no-password',
    `--schema=${opts.schema}`,
    `--lock-wait-timeout=${opts.lockWaitTimeoutMs}`,
    ...(opts.snapshot ? [`--snapshot=${opts.snapshot}`] : []),
    `--dbname=${conn.dbname}`,
  ];
  return spawn(pgTool(opts.binDir, 'pg_dump'), args, {
    env: childEnv(conn.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * Starts psql reading SQL from its stdin: no psqlrc, stop at the first error, quiet, unaligned
 * tuples only (callers print a marker to confirm the end was reached).
 */
export function spawnPsql(url: string, binDir?: string): ChildProcess {
  const conn = libpqConnection(url);
  return spawn(
    pgTool(binDir, 'psql'),
    ['-X', '-q', '-A', '-t', '--no-password', '-v', 'ON_ERROR_STOP=1', `--dbname=${conn.dbname}`],
    { env: childEnv({ ...conn.env, PGAPPNAME: 'tradesage-restore' }), stdio: ['pipe', 'pipe', 'pipe'] },
  );
}

const dumpVersions = new Map<string, Promise<string>>();

/** `pg_dump --version`, e.g. `pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)` (cached). */
export function pgDumpVersion(binDir?: string): Promise<string> {
  const tool = pgTool(binDir, 'pg_dump');
  let version = dumpVersions.get(tool);
  if (!version) {
    version = execFileAsync(tool, ['--version'], { env: childEnv({}) }).then(
      (r) => r.stdout.trim(),
      (err: unknown) => {
        dumpVersions.delete(tool);
        throw err;
      },
    );
    dumpVersions.set(tool, version);
  }
  return version;
}
