/**
 * MA130 reachability with a real OpenSSH server: the tenants worker's non-fatal `/ready` check and
 * `tenants_ma130_reachable`, and `make ma130-check` (scripts/ma130-check.ts). The server is stopped
 * to make the MA130 unreachable; the worker stays ready.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../../lib/config.js';
import { createTestEnv, type TestEnv } from '../../../../test/support/env.js';
import { startTestSshd, type TestSshd } from '../../../../test/support/sshd.js';
import { eventually } from '../../../../test/support/wait.js';
import { ma130Settings } from '../../src/backup/ma130.client.js';
import { probeMa130 } from '../../src/backup/ma130.probe.js';
import { createTenantsWorker, type TenantsWorker } from '../../src/jobs/worker.js';

let dir: string | undefined;
let env: TestEnv;
let sshd: TestSshd;
let worker: TenantsWorker;
let url: string;

interface ReadyBody {
  status: string;
  checks: Record<string, boolean>;
  optional?: Record<string, boolean>;
}

async function ready(): Promise<{ status: number; body: ReadyBody }> {
  const res = await fetch(`${url}/ready`);
  return { status: res.status, body: (await res.json()) as ReadyBody };
}

async function gauge(name: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** `make ma130-check` as the Makefile runs it natively, against this test's MA130. */
function ma130Check(): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/ma130-check.ts'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...sshd.env, NO_COLOR: '1' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tradesage-ma130-reach-'));
  sshd = await startTestSshd(dir);
  env = await createTestEnv('ma130_reach', { ...sshd.env, MA130_CHECK_INTERVAL_MS: '200' });
  worker = createTenantsWorker(env.config);
  ({ url } = await worker.start());
}, 60_000);

afterAll(async () => {
  await worker?.stop();
  await sshd?.stop();
  await env?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Files the probes left under the backup path (none: each probe deletes its file). */
async function leftovers(): Promise<string[]> {
  return (await readdir(sshd.root)).filter((f) => f.startsWith('.ma130-probe-'));
}

describe('MA130 reachability', () => {
  it('while the MA130 runs: /ready reports it, the gauge is 1, no probe file is left', async () => {
    const r = await eventually(async () => {
      const x = await ready();
      return x.body.optional?.['ma130'] === true ? x : undefined;
    }, 'optional.ma130 true');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'ready', checks: { postgres: true, redis: true } });
    expect(await gauge('tenants_ma130_reachable')).toBe(1);
    expect(await gauge('service_ready')).toBe(1);
    // The queue gauges read the (empty) queues of this namespace.
    expect(await gauge('tenants_queue_jobs')).toBe(0);
    expect(await gauge('tenants_queue_oldest_waiting_seconds')).toBe(0);
    expect(worker.ma130?.last).toMatchObject({ ok: true });
    expect(await leftovers()).toEqual([]);
  });

  it('make ma130-check prints a positive verdict (exit 0)', () => {
    const r = ma130Check();
    expect(r.output).toContain('MA130 reachable');
    expect(r.status).toBe(0);
  });

  it('a probe against the wrong host key names the mismatch', async () => {
    const r = await probeMa130({
      ...ma130Settings(env.config),
      hostKeySha256: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    });
    expect(r).toMatchObject({ ok: false, step: 'connect' });
    expect(r.ok ? '' : r.reason).toMatch(/host key mismatch/);
  });

  it('with the MA130 stopped: unreachable with a reason, /ready still 200, the gauge 0', async () => {
    await sshd.stop();
    const r = await eventually(async () => {
      const x = await ready();
      return x.body.optional?.['ma130'] === false ? x : undefined;
    }, 'optional.ma130 false');
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('ready');
    expect(await gauge('tenants_ma130_reachable')).toBe(0);
    expect(await gauge('service_ready')).toBe(1);
    const last = worker.ma130?.last;
    expect(last?.ok).toBe(false);
    expect(last && !last.ok ? last.reason : '').toMatch(/connection failed|ECONNREFUSED/);

    const check = ma130Check();
    expect(check.output).toMatch(/MA130 NOT reachable \(connect\): .*(ECONNREFUSED|connection failed)/);
    expect(check.status).toBe(1);
  });

  it('reachable again once the MA130 is back', async () => {
    await sshd.restart();
    await eventually(
      async () => ((await ready()).body.optional?.['ma130'] === true ? true : undefined),
      'optional.ma130 true again',
    );
    expect(await gauge('tenants_ma130_reachable')).toBe(1);
  });
});
