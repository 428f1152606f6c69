/**
 * One platform process's start (issue 15, item 4), A/B: `node <args> dist/<name>.js` from one or more
 * checkouts, alternating, each until its /health (or `--route=/ready`) answers 200; prints the CPU the
 * process used until then (what load changes least), the wall time and the resident memory then. Its
 * own namespace (database, Redis prefix, ports), as the run command would give it.
 *
 * Run: `npx tsx bench/process-start.ts <name> [rounds=5] [--route=/ready] [--variant=<label>=<root>[,<node args>]]...`
 * A variant is a checkout (its dist/ built) and the node arguments before its bundle (space separated,
 * default: this checkout's `launchArgs(p, 'dist')` without the bundle). Without `--variant`, this
 * checkout as the run command starts it. Variants with other V8 flags need checkouts of their own: a
 * bundle's code cache holds for one set of flags (scripts/run-bundle.ts).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, processEnv, PROJECT_ROOT } from '../lib/config.js';
import { signalChild } from '../lib/process-signal.js';
import { launchArgs, platformProcesses } from '../scripts/platform.js';
import { CODE_CACHE_AFTER_MS } from '../scripts/run-bundle.js';
import { createTestEnv } from '../test/support/env.js';
import { runCommandEnv } from '../test/support/run-command.js';

interface Variant {
  label: string;
  root: string;
  args: string[];
}

/** Resident memory of `pid` in MB. */
function rssMb(pid: number): number {
  const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb ?? NaN) / 1024;
}

/** utime + stime of `pid` in ms (100 ticks a second on Linux). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

async function status(url: string): Promise<number> {
  return fetch(url, { signal: AbortSignal.timeout(1000) }).then(
    async (res) => {
      await res.body?.cancel();
      return res.status;
    },
    () => 0,
  );
}

async function once(
  v: Variant,
  bundle: string,
  url: string,
  env: Record<string, string>,
  holdMs = 0,
): Promise<{ cpu: number; wall: number; rss: number }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [...v.args, bundle], {
    cwd: v.root,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${v.label}: exited early:\n${err}`);
      if ((await status(url)) === 200) break;
      if (performance.now() - t0 > 60_000)
        throw new Error(`${v.label}: no 200 from ${url} after 60 s:\n${err}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const pid = child.pid ?? -1;
    const result = { cpu: cpuMs(pid), wall: performance.now() - t0, rss: rssMb(pid) };
    await new Promise((r) => setTimeout(r, holdMs));
    return result;
  } finally {
    signalChild(child, 'SIGTERM');
    await exited;
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const name = argv.find((a) => !a.startsWith('--'));
  if (!name)
    throw new Error('usage: process-start.ts <name> [rounds] [--route=/ready] [--variant=label=root[,args]]');
  const rounds = Number(argv.filter((a) => !a.startsWith('--'))[1] ?? 5);
  const route = argv.find((a) => a.startsWith('--route='))?.slice(8) ?? '/health';
  const testEnv = await createTestEnv('procstart');
  try {
    const vars = await runCommandEnv(testEnv, { NODE_ENV: 'production', LOG_LEVEL: 'warn' });
    const spec = platformProcesses(loadConfig(vars)).find((p) => p.name === name);
    if (!spec) throw new Error(`no process named ${name}`);
    const defaultArgs = launchArgs(spec, 'dist').slice(0, -1);
    const variants: Variant[] = argv
      .filter((a) => a.startsWith('--variant='))
      .map((a) => {
        const [label = '', rest = ''] = a.slice(10).split(/=(.*)/s);
        const [root = PROJECT_ROOT, args] = rest.split(/,(.*)/s);
        return {
          label,
          root: path.resolve(root),
          args: args === undefined ? defaultArgs : args.split(' ').filter(Boolean),
        };
      });
    if (variants.length === 0)
      variants.push({ label: 'this checkout', root: PROJECT_ROOT, args: defaultArgs });
    const { PATH, HOME } = processEnv();
    const env = { ...(PATH ? { PATH } : {}), ...(HOME ? { HOME } : {}), ...vars };
    const url = `http://127.0.0.1:${spec.port}${route}`;
    const results = new Map<string, { cpu: number; wall: number; rss: number }[]>(
      variants.map((v) => [v.label, []]),
    );
    // One warm-up each (page cache), kept running until a bundle run by scripts/run-bundle.ts has
    // written its code cache, then alternating.
    for (const v of variants) await once(v, spec.dist, url, env, CODE_CACHE_AFTER_MS + 1000);
    for (let i = 0; i < rounds; i++) {
      for (const v of variants) results.get(v.label)?.push(await once(v, spec.dist, url, env));
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
    console.log(
      `${name} until ${route} = 200, ${rounds} rounds after a warm-up; ${os.cpus().length} cores, load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    for (const v of variants) {
      const r = results.get(v.label) ?? [];
      console.log(
        `${v.label.padEnd(16)} CPU median ${median(r.map((x) => x.cpu)).toFixed(0)} ms (${r.map((x) => x.cpu).join(', ')}); wall median ${median(r.map((x) => x.wall)).toFixed(0)} ms; RSS median ${median(r.map((x) => x.rss)).toFixed(0)} MB   [${v.args.join(' ')}]`,
      );
    }
  } finally {
    await testEnv.cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
