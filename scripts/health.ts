/**
 * `make health`: asks every process of the platform for /health (alive) and /ready (dependencies
 * reachable). Exits non-zero when a process is down or not ready. `--compose-network` asks each service by its
 * compose name (run inside the stack: only the gateway's port is published).
 */
import { loadToolConfig, paint, platformProcesses } from './platform.js';

interface Probe {
  status?: number;
  body?: unknown;
}

async function probe(url: string): Promise<Probe> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Plain text is kept as is.
    }
    return { status: res.status, body };
  } catch {
    return {};
  }
}

function failingChecks(body: unknown): string {
  if (typeof body !== 'object' || body === null || !('checks' in body)) return '';
  const checks = body.checks;
  if (typeof checks !== 'object' || checks === null) return '';
  const bad = Object.entries(checks).filter(([, ok]) => ok !== true);
  return bad.length > 0 ? ` (failing: ${bad.map(([k]) => k).join(', ')})` : '';
}

async function main(): Promise<void> {
  const config = loadToolConfig();
  const colour = process.stdout.isTTY;
  const processes = platformProcesses(config);
  const width = Math.max(...processes.map((p) => p.name.length));
  let down = 0;
  let up = 0;
  for (const p of processes) {
    const name = p.name.padEnd(width);
    const where = `:${p.port}`.padEnd(6);
    const host = process.argv.includes('--compose-network') ? p.name : '127.0.0.1';
    const base = `http://${host}:${p.port}`;
    const [health, ready] = await Promise.all([probe(`${base}/health`), probe(`${base}/ready`)]);
    if (health.status === 200 && ready.status === 200) {
      up += 1;
      console.log(`${paint('✔', 'green', colour)} ${name} ${where} healthy, ready`);
    } else if (health.status === 200) {
      up += 1;
      down += 1;
      console.log(
        `${paint('!', 'yellow', colour)} ${name} ${where} alive, NOT ready (/ready ${String(ready.status ?? 'no answer')})${failingChecks(ready.body)}`,
      );
    } else {
      down += 1;
      const why = health.status === undefined ? 'no answer' : `/health ${health.status}`;
      console.log(`${paint('✖', 'red', colour)} ${name} ${where} DOWN (${why})`);
    }
  }
  if (up === 0) console.log('\nNothing is running: start the platform with `make dev` (or `make compose`).');
  process.exit(down > 0 ? 1 : 0);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
