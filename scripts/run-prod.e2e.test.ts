/**
 * `make prod`'s path for real: dist/ built by scripts/build.ts (when stale), `node dist/db-init.js`,
 * then `node dist/dev.js` with NODE_ENV=production, as scripts/run.sh runs them. Every platform
 * process must run from its bundle (no tsx), and a client registers and reads itself through the
 * gateway, which also serves files it reads relative to the repository root. Source maps must send a
 * stack trace back to the TypeScript sources.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, processEnv, PROJECT_ROOT } from '../lib/config.js';
import { createTestEnv, type TestEnv } from '../test/support/env.js';
import { gql } from '../test/support/platform.js';
import { runCommandEnv, startRunCommand, type RunningCommand } from '../test/support/run-command.js';
import { ensureBuilt, staleReason } from './build.js';
import { platformProcesses } from './platform.js';

/** Command lines of the descendants of `root` (Linux /proc). */
function descendants(root: number): string[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // Gone meanwhile.
    }
  }
  const isBelow = (pid: number): boolean => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) if (p === root) return true;
    return false;
  };
  return [...parent.keys()].filter(isBelow).flatMap((pid) => {
    try {
      return [readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ')];
    } catch {
      return [];
    }
  });
}

describe.skipIf(process.platform !== 'linux')('make prod: the platform from dist/', () => {
  let env: TestEnv;
  let vars: Record<string, string>;
  let platform: RunningCommand | undefined;

  beforeAll(async () => {
    env = await createTestEnv('runprod');
    vars = await runCommandEnv(env, { NODE_ENV: 'production', LOG_LEVEL: 'warn', DB_POOL_MAX: '3' });
    await ensureBuilt();
    const { PATH, HOME } = processEnv();
    const init = spawnSync(process.execPath, ['dist/db-init.js'], {
      cwd: PROJECT_ROOT,
      env: { PATH, HOME, ...vars },
      encoding: 'utf8',
    });
    expect(init.stderr).toBe('');
    expect(init.stdout).toMatch(/^database ready: /);
    platform = await startRunCommand(vars, { runner: 'dist' });
  }, 300_000);

  afterAll(async () => {
    if (platform) expect(await platform.stop()).toBe(0);
    await env.cleanup();
  }, 120_000);

  it('is fresh after a build, so run.sh skips the next one', () => {
    expect(staleReason()).toBeUndefined();
  });

  it('runs every process from its bundle, none through tsx', () => {
    const commands = descendants(platform?.child.pid ?? -1);
    const expected = platformProcesses(loadConfig(vars));
    for (const p of expected) {
      expect(
        commands.some((c) => c.endsWith(` ${p.dist}`)),
        `${p.name}: ${commands.join(' | ')}`,
      ).toBe(true);
    }
    expect(commands.filter((c) => c.includes('tsx'))).toEqual([]);
    expect(commands).toHaveLength(expected.length);
  });

  it('registers a user through the gateway and answers who they are', async () => {
    const url = `${platform?.gatewayUrl ?? ''}/graphql`;
    const reg = await gql<{ register: { accessToken: string; user: { id: string } } }>(
      url,
      'mutation($input: RegisterInput!) { register(input: $input) { accessToken user { id } } }',
      {
        input: {
          email: 'prod@example.com',
          password: 'correct horse battery staple',
          organizationName: 'Prod',
        },
      },
    );
    expect(reg.errors).toBeUndefined();
    const token = reg.data?.register.accessToken;
    const me = await gql<{ me: { id: string; email: string } }>(url, '{ me { id email } }', {}, token);
    expect(me.errors).toBeUndefined();
    expect(me.data?.me).toEqual({ id: reg.data?.register.user.id, email: 'prod@example.com' });
  });

  it('serves files it reads from the repository (PROJECT_ROOT is the root, not dist/)', async () => {
    const res = await fetch(`${platform?.gatewayUrl ?? ''}/graphiql/assets/graphiql.min.css`);
    expect(res.status).toBe(200);
    const css = readFileSync(path.join(PROJECT_ROOT, 'node_modules/graphiql/graphiql.min.css'), 'utf8');
    expect(await res.text()).toBe(css);
  });

  it('maps a stack trace from a bundle back to the TypeScript source', () => {
    // The orchestrator prints the stack of what stops it: here, a flag it refuses.
    const { PATH, HOME } = processEnv();
    const r = spawnSync(process.execPath, ['dist/dev.js', '--runner=none'], {
      cwd: PROJECT_ROOT,
      env: { PATH, HOME, ...vars },
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('--runner must be dist or tsx');
    expect(r.stderr).toMatch(/scripts\/dev\.ts:\d+:\d+/);
    // No frame in the bundle itself (the launcher, dist/dev.js, has its own two lines).
    expect(r.stderr).not.toMatch(/dist\/dev\.\w+\.cjs:\d+/);
  });
});
