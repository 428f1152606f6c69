/**
 * Lowering a process's own CPU priority so that it yields to the services that answer requests.
 *
 * A nice value alone is not enough on Linux with autogroup scheduling (`kernel.sched_autogroup_enabled`
 * = 1, the default of Debian's and most distributions' kernels, whenever the process is in the root
 * CPU cgroup): the scheduler first shares the CPU fairly between sessions (each `setsid`, so each
 * process `make dev` and `make prod` start, each PostgreSQL backend), and a process's nice value only
 * weighs against the other processes of its own session. A worker niced to 19 in a session of its own
 * then still takes as much CPU as the gateway (measured: 259 against 257 and 278 ticks; with the
 * session's nice set too, 8 against 393 and 393). The session's weight is its autogroup's nice value,
 * `/proc/self/autogroup`, which a process may raise without privilege.
 *
 * In a container (its own CPU cgroup) autogroup does not apply and the nice value is what counts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';

/** What {@link lowerCpuPriority} did. */
export interface PriorityOutcome {
  /** The process's nice value afterwards. */
  nice: number;
  /** The autogroup's nice value afterwards, when it was set (this process leads its own session). */
  autogroupNice: number | undefined;
}

/** The session id of this process (`/proc/self/stat` field 6), or undefined off Linux. */
function sessionId(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // Fields after the command name, which is in parentheses and may itself contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[3]);
  } catch {
    return undefined;
  }
}

/** The autogroup's nice value (`/autogroup-85 nice 0`), or undefined without autogroup. */
export function autogroupNice(pid: number | 'self' = 'self'): number | undefined {
  try {
    const m = /nice (-?\d+)/.exec(readFileSync(`/proc/${pid}/autogroup`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Raises this process's nice value to at least `nice` (never lowers it: that would need privilege)
 * and, when this process leads its own session, its autogroup's nice value too. A process that does
 * not lead its session (started from a shell in the foreground) leaves the autogroup alone: that
 * would lower the priority of the whole terminal session with it.
 * @param nice 0 (no change) to 19 (the lowest priority)
 */
export function lowerCpuPriority(nice: number): PriorityOutcome {
  if (nice > 0) os.setPriority(Math.max(os.getPriority(), nice));
  let group: number | undefined;
  const current = autogroupNice();
  if (nice > 0 && current !== undefined && sessionId() === process.pid) {
    group = Math.max(current, nice);
    if (group !== current) writeFileSync('/proc/self/autogroup', String(group));
  }
  return { nice: os.getPriority(), autogroupNice: group };
}
