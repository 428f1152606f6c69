import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isRunning, signalChild, signalChildGroup, signalDescendant } from './process-signal.js';

const exitOf = (c: ChildProcess): Promise<NodeJS.Signals | null> =>
  new Promise((resolve) => c.once('exit', (_code, signal) => resolve(signal)));

describe('process-signal', () => {
  it('refuses every pid that is not a plain process of ours', () => {
    for (const pid of [-1, 0, 1, -process.pid, process.pid, process.ppid, 1.5, Number.NaN]) {
      expect(signalDescendant(pid, 'SIGTERM'), String(pid)).toBe(false);
    }
  });

  it('signals a running child, and nothing once it has exited', async () => {
    const child = spawn('sleep', ['30']);
    expect(isRunning(child)).toBe(true);
    const exited = exitOf(child);
    expect(signalChild(child, 'SIGTERM')).toBe(true);
    expect(await exited).toBe('SIGTERM');
    expect(isRunning(child)).toBe(false);
    expect(signalChild(child, 'SIGKILL')).toBe(false);
    expect(signalChildGroup(child, 'SIGKILL')).toBe(false);
    expect(signalChild(undefined, 'SIGKILL')).toBe(false);
  });

  it("reaches a detached child's whole group, grandchildren included", async () => {
    // The shell leads a new group; its `sleep` is in the same group and must die with it.
    const child = spawn('sh', ['-c', 'sleep 30 & echo $!; wait'], {
      detached: true,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const grandchild = await new Promise<number>((resolve) =>
      child.stdout?.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))),
    );
    const exited = exitOf(child);
    expect(signalChildGroup(child, 'SIGTERM')).toBe(true);
    await exited;
    // Gone, or a zombie waiting for whichever process adopted it to reap it.
    const alive = (): boolean => {
      try {
        const stat = readFileSync(`/proc/${grandchild}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 100 && alive(); i++) await new Promise((r) => setTimeout(r, 20));
    expect(alive()).toBe(false);
  });
});
