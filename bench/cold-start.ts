/**
 * Cold start (issue 15, item 4): the run command's path from `db-init` to every process's /ready
 * answering 200, as `make prod` runs it (NODE_ENV=production, scripts/dev.ts as scripts/run.sh execs
 * it), with the bundles in dist/ against the same steps through tsx, alternating in one run. The
 * build itself is timed apart (run.sh skips it while dist/ is fresh). Target: under 5 s.
 *
 * Run: `npx tsx bench/cold-start.ts [rounds=3] [--mode=dev] [--dist-only]` (`--dist-only` skips the
 * tsx rounds). Its own database, Redis prefix and ports; figures depend on the machine's load, printed
 * beside them.
 */
import { spawn, spawnSync } from 'node:child_process';
import os from 'node:os';
import { loadConfig, processEnv, PROJECT_ROOT } from '../lib/config.js';
import { build } from '../scripts/build.js';
import { cpuSnapshot } from './proc-cpu.js';
import { platformProcesses } from '../scripts/platform.js';
import { CODE_CACHE_AFTER_MS } from '../scripts/run-bundle.js';
import { createTestEnv } from '../test/support/env.js';
import { orchestratorArgs, runCommandEnv, type RunCommandRunner } from '../test/support/run-command.js';
import { signalChild } from '../lib/process-signal.js';
import { deployedDefaults } from './deployed-platform.js';

const POLL_MS = 50;

interface Round {
  runner: RunCommandRunner;
  dbInitMs: number;
  readyMs: number;
  /** CPU the orchestrator and its processes used until every /ready, ms: what load does not change. */
  cpuMs: number;
  /** The same by process, for the slowest few. */
  cpuBy: Map<string, number>;
}

function dbInitArgs(runner: RunCommandRunner): string[] {
  return runner === 'tsx' ? ['--import', 'tsx', 'scripts/db-init.ts'] : ['dist/db-init.js'];
}

async function allReady(ports: number[]): Promise<boolean> {
  const codes = await Promise.all(
    ports.map((port) =>
      fetch(`http://127.0.0.1:${port}/ready`, { signal: AbortSignal.timeout(1000) }).then(
        async (res) => {
          await res.body?.cancel();
          return res.status;
        },
        () => 0,
      ),
    ),
  );
  return codes.every((c) => c === 200);
}

/**
 * db-init, then the orchestrator until every /ready is 200; stops it (after `holdMs` more) and waits
 * for its exit.
 */
async function round(
  runner: RunCommandRunner,
  vars: Record<string, string>,
  ports: number[],
  holdMs = 0,
): Promise<Round> {
  const { PATH, HOME } = processEnv();
  const env = { ...(PATH ? { PATH } : {}), ...(HOME ? { HOME } : {}), ...vars };
  const args = await orchestratorArgs(runner);
  const t0 = performance.now();
  const init = spawnSync(process.execPath, dbInitArgs(runner), { cwd: PROJECT_ROOT, env, encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`db-init (${runner}) failed: ${init.stderr}`);
  const t1 = performance.now();
  const child = spawn(process.execPath, args, { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer): void => {
    out = (out + d.toString()).slice(-10_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the run command exited early:\n${out}`);
      if (await allReady(ports)) break;
      if (performance.now() - t1 > 120_000) throw new Error(`not ready after 120 s:\n${out}`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    const readyMs = performance.now() - t0;
    // Ticks at 100 Hz; PostgreSQL and Redis are the machine's, shared with everyone, so left out.
    const cpuBy = new Map(
      [...cpuSnapshot([child.pid ?? -1])]
        .filter(([label]) => label !== 'postgresql' && label !== 'redis')
        .map(([label, ticks]) => [label, ticks * 10]),
    );
    const cpuMs = [...cpuBy.values()].reduce((a, b) => a + b, 0);
    await new Promise((r) => setTimeout(r, holdMs));
    return { runner, dbInitMs: t1 - t0, readyMs, cpuMs, cpuBy };
  } finally {
    signalChild(child, 'SIGINT');
    await exited;
  }
}

async function main(): Promise<void> {
  const rounds = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 3);
  const mode = process.argv.includes('--mode=dev') ? 'development' : 'production';
  const runners: readonly RunCommandRunner[] = process.argv.includes('--dist-only')
    ? ['dist']
    : ['tsx', 'dist'];
  const env = await createTestEnv('coldstart');
  try {
    const vars = await runCommandEnv(env, { NODE_ENV: mode, LOG_LEVEL: 'warn', ...deployedDefaults() });
    const ports = platformProcesses(loadConfig(vars)).map((p) => p.port);
    const buildMs = await build();
    const results: Round[] = [];
    // One warm-up each (tsx fills its transform cache, the OS its page cache, and each dist/ bundle
    // writes its code cache: scripts/run-bundle.ts), then alternating.
    for (const runner of runners) await round(runner, vars, ports, CODE_CACHE_AFTER_MS + 1000);
    for (let i = 0; i < rounds; i++) {
      for (const runner of runners) results.push(await round(runner, vars, ports));
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
    console.log(
      `cold start, NODE_ENV=${mode}, ${ports.length} processes, ${rounds} rounds each after a warm-up`,
    );
    console.log(
      `machine: ${os.cpus().length} cores, load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    console.log(`build (esbuild, every bundle): ${buildMs} ms`);
    for (const runner of runners) {
      const mine = results.filter((r) => r.runner === runner);
      const fmt = (xs: number[]): string =>
        `median ${(median(xs) / 1000).toFixed(2)} s (${xs.map((x) => (x / 1000).toFixed(2)).join(', ')})`;
      console.log(
        `${runner.padEnd(4)}  db-init ${fmt(mine.map((r) => r.dbInitMs))};  db-init to every /ready ${fmt(mine.map((r) => r.readyMs))}`,
      );
      const last = mine.at(-1);
      const by = [...(last?.cpuBy ?? [])].sort((a, b) => b[1] - a[1]);
      console.log(
        `      CPU until every /ready ${fmt(mine.map((r) => r.cpuMs))}; last round by process: ${by.map(([l, ms]) => `${l} ${(ms / 1000).toFixed(2)}`).join(', ')}`,
      );
    }
  } finally {
    await env.cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
