/**
 * The one way the platform's own commands signal processes. Every stop path goes through here, so no
 * code can send a signal to a pid it did not start: `kill(-1)` reaches every process of the user
 * (as root, the machine), `kill(0)` this process group, and a negative pid a whole group. Only a
 * child this process spawned and still holds (not yet exited, so its pid cannot have been reused)
 * may be signalled, or the group of a child spawned `detached` (its own group leader).
 *
 * `process.kill` is banned elsewhere by the lint configuration (eslint.config.js).
 */
import type { ChildProcess } from 'node:child_process';

/** True while `child` was started and has not exited (its pid still names it). */
export function isRunning(child: ChildProcess | undefined): child is ChildProcess & { pid: number } {
  return (
    child !== undefined &&
    Number.isInteger(child.pid) &&
    (child.pid ?? 0) > 1 &&
    child.exitCode === null &&
    child.signalCode === null
  );
}

/**
 * Sends `signal` to `child` if it is still running; returns whether a signal was sent.
 * @param child a process this code spawned
 */
export function signalChild(child: ChildProcess | undefined, signal: NodeJS.Signals): boolean {
  if (!isRunning(child)) return false;
  try {
    return child.kill(signal);
  } catch {
    return false;
  }
}

/**
 * Sends `signal` to the process group `child` leads. Only for children spawned with
 * `detached: true` (setsid: the child is the leader of a new group whose id is its pid), and only
 * while the leader is running, so the group id is still ours.
 */
export function signalChildGroup(child: ChildProcess | undefined, signal: NodeJS.Signals): boolean {
  if (!isRunning(child)) return false;
  // Stated again where the sign flips: a group id is a leader's pid above 1, so `-group` is never
  // -1 (every process of the user) or 0 (our own group).
  const group = child.pid;
  if (!Number.isSafeInteger(group) || group <= 1 || group === process.pid) return false;
  try {
    // eslint-disable-next-line no-restricted-properties -- the one checked group signal (see above)
    process.kill(-group, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Sends `signal` to `pid`, a process started by a child this code holds (e.g. a session process an
 * sshd it spawned forked), read from `/proc` a moment ago. Refuses anything that is not a plain pid:
 * not an integer above 1, this process, or its parent.
 */
export function signalDescendant(pid: number, signal: NodeJS.Signals): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 1 || pid === process.pid || pid === process.ppid) return false;
  try {
    // eslint-disable-next-line no-restricted-properties -- validated above; the caller found it under its child
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}
