import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { autogroupNice } from './cpu-priority.js';

const MODULE = fileURLToPath(new URL('./cpu-priority.ts', import.meta.url));
const hasAutogroup = autogroupNice() !== undefined;

/**
 * A child that calls lowerCpuPriority(nice), prints the outcome and stays alive until its stdin
 * closes, so that its /proc entries can be read from here.
 */
async function childLowering(
  nice: number,
  detached: boolean,
): Promise<{
  outcome: { nice: number; autogroupNice?: number };
  autogroup: number | undefined;
  done: () => Promise<void>;
}> {
  const script =
    `const { lowerCpuPriority } = await import(${JSON.stringify(MODULE)});` +
    `console.log(JSON.stringify(lowerCpuPriority(${nice})));` +
    `process.stdin.resume(); process.stdin.on('end', () => process.exit(0));`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    detached,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
    child.once('exit', (code) => reject(new Error(`child exited ${code}`)));
  });
  const autogroup = autogroupNice(child.pid ?? 0);
  return {
    outcome: JSON.parse(line) as { nice: number; autogroupNice?: number },
    autogroup,
    done: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.stdin.end();
      }),
  };
}

describe('lowerCpuPriority', () => {
  it.skipIf(!hasAutogroup)('a session leader lowers its nice value and its autogroup’s', async () => {
    const c = await childLowering(7, true);
    try {
      expect(c.outcome.nice).toBe(7);
      expect(c.outcome.autogroupNice).toBe(7);
      expect(c.autogroup).toBe(7);
    } finally {
      await c.done();
    }
  });

  it.skipIf(!hasAutogroup)('a process in someone else’s session leaves the autogroup alone', async () => {
    const before = autogroupNice();
    const c = await childLowering(5, false);
    try {
      expect(c.outcome.nice).toBe(5);
      expect(c.outcome.autogroupNice).toBeUndefined();
      // The child shares this process's autogroup, whose weight must not have changed.
      expect(c.autogroup).toBe(before);
      expect(autogroupNice()).toBe(before);
    } finally {
      await c.done();
    }
  });

  it('never raises the priority back (0 changes nothing)', async () => {
    const c = await childLowering(0, true);
    try {
      expect(c.outcome.nice).toBe(0);
      expect(c.outcome.autogroupNice).toBeUndefined();
    } finally {
      await c.done();
    }
  });
});
