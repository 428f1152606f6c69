/**
 * The run command's stop path, for real: `scripts/dev.ts` (what `make dev` execs into) starts every
 * platform process and the development MA130 inside a fresh PID namespace (`unshare -fp
 * --mount-proc`) beside a bystander process started before it, then gets SIGINT as from Ctrl-C.
 * The bystander must live and nothing of the platform may be left. Inside the namespace a stray
 * `kill(-1)` (issue 11's bug) can only reach the namespace's own processes, never the machine's.
 */
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processEnv, PROJECT_ROOT } from '../lib/config.js';
import { createTestEnv, freePorts, type TestEnv } from '../test/support/env.js';
import { runCommandEnv } from '../test/support/run-command.js';
import { eventually } from '../test/support/wait.js';

// As root (CI) a PID namespace needs nothing more; an unprivileged developer gets one inside a user
// namespace (-r) where the kernel allows it.
const UNSHARE = [
  ['-fp', '--mount-proc'],
  ['-rfp', '--mount-proc'],
].find(
  (args) =>
    process.platform === 'linux' && spawnSync('unshare', [...args, 'true'], { stdio: 'ignore' }).status === 0,
);

// Runs as pid 1 of the namespace. Reads "stop" on stdin, then does what Ctrl-C does and reports.
const HARNESS = `
set -u
sleep 3600 &
bystander=$!
echo "bystander $bystander"
node --import tsx scripts/dev.ts --no-color --stop-timeout=20000 >"$DATA_DIR/dev.out" 2>&1 &
dev=$!
echo "dev $dev"
read -r _line
kill -INT "$dev"
wait "$dev"
echo "dev-exit $?"
if kill -0 "$bystander" 2>/dev/null; then echo "bystander-alive yes"; else echo "bystander-alive no"; fi
ps -eo pid=,args= | while read -r pid args; do
  case "$pid" in 1|"$bystander") continue ;; esac
  case "$args" in ps\\ *|*"while read"*) continue ;; esac
  echo "left $pid $args"
done
kill "$bystander"
echo done
`;

describe.skipIf(UNSHARE === undefined)('make dev: Ctrl-C stops only the platform', () => {
  let env: TestEnv;
  let vars: Record<string, string>;

  beforeAll(async () => {
    env = await createTestEnv('devstop');
    const [ma130Port] = await freePorts(1);
    const key = path.join(env.tmpDir, 'ma130_key');
    const gen = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'devstop', '-f', key]);
    expect(gen.status).toBe(0);
    // The development MA130 (an sshd of dev.ts's own) starts too: its stop was the bug.
    vars = await runCommandEnv(env, { DB_POOL_MAX: '3', MA130_KEY_PATH: key, MA130_PORT: String(ma130Port) });
  });

  afterAll(async () => {
    await env.cleanup();
  });

  it('leaves the bystander running and no platform process behind', { timeout: 300_000 }, async () => {
    const { PATH, HOME } = processEnv();
    const child = spawn('unshare', [...(UNSHARE ?? []), 'bash', '-c', HARNESS], {
      cwd: PROJECT_ROOT,
      env: { PATH, HOME, ...vars },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const lines: string[] = [];
    readline.createInterface({ input: child.stdout }).on('line', (l) => lines.push(l));
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    try {
      // Up when the gateway (started last) answers and the development MA130 is listening.
      await eventually(
        async () => {
          if (child.exitCode !== null) throw new Error(`harness ended early: ${lines.join(' | ')}`);
          const res = await fetch(`http://127.0.0.1:${vars['GATEWAY_PORT']}/health`).catch(() => undefined);
          return res?.status === 200 ? true : undefined;
        },
        'the platform started by scripts/dev.ts',
        240_000,
        500,
      );
      child.stdin.write('stop\n');
      expect(await exited).toBe(0);
    } finally {
      child.stdin.end();
      // The namespace's pid 1 is ours; it ends the namespace, and everything in it, when it exits.
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    expect(lines).toContain('bystander-alive yes');
    expect(lines).toContain('dev-exit 0');
    expect(lines.filter((l) => l.startsWith('left '))).toEqual([]);
    expect(lines).toContain('done');
  });
});
