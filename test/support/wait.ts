/** Polling for tests (never a timed assertion: the timeout only bounds how long a failure takes). */
import type { Job, Queue } from 'bullmq';

/**
 * Polls `fn` until it returns a value other than undefined.
 * @param what named in the error when `timeoutMs` passes first
 * @param timeoutMs @default 20_000
 * @param intervalMs pause between polls @default 50
 */
export async function eventually<T>(
  fn: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 20_000,
  intervalMs = 50,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * BullMQ job `id` of `queue` once it reached `state`, read after it did: a copy read before the job
 * finished answers `getState()` with the current state but carries no return value or failure reason.
 */
export async function finishedJob(
  queue: Queue,
  id: string,
  state: 'completed' | 'failed',
  what = `job ${id} ${state}`,
): Promise<Job> {
  await eventually(async () => ((await queue.getJobState(id)) === state ? true : undefined), what);
  const job = await queue.getJob(id);
  if (!job) throw new Error(`${what}: the job is gone`);
  return job;
}
