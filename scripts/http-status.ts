/** HTTP status of a GET within 2 s, undefined when nothing answered (start-up and readiness polls). */
export async function httpStatus(url: string): Promise<number | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.status;
  } catch {
    return undefined;
  }
}
