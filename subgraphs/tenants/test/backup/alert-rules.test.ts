/**
 * The Prometheus alert rules (ops/prometheus/alerts): valid for `promtool check rules`, and each
 * alert fires exactly in the situations of tradesage.rules.test.yml (`promtool test rules`). Needs
 * promtool (`apt-get install -y prometheus`); skipped without it, except in CI where it must exist.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { processEnv, PROJECT_ROOT } from '../../../../lib/config.js';

const dir = path.join(PROJECT_ROOT, 'ops/prometheus/alerts');
const hasPromtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).error === undefined;
const inCi = Boolean(processEnv()['CI']);

const promtool = (...args: string[]): { status: number | null; output: string } => {
  const r = spawnSync('promtool', args, { cwd: dir, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
};

describe('alert rules', () => {
  it('promtool is installed in CI', () => {
    expect(hasPromtool || !inCi).toBe(true);
  });

  it.skipIf(!hasPromtool)('pass promtool check rules', () => {
    const r = promtool('check', 'rules', 'tradesage.rules.yml');
    expect(r.output).toContain('SUCCESS');
    expect(r.status, r.output).toBe(0);
  });

  it.skipIf(!hasPromtool)(
    'fire as tradesage.rules.test.yml expects (promtool test rules)',
    () => {
      const r = promtool('test', 'rules', 'tradesage.rules.test.yml');
      expect(r.status, r.output).toBe(0);
      // promtool evaluates every case minute by minute (some over a day): seconds on a busy machine.
    },
    60_000,
  );
});
