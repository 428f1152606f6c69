/**
 * HTTP load for the benches: `wrk` when installed (a Lua script POSTs the body and rotates the
 * tokens per request), otherwise a keep-alive loop in a child process of its own. Either way the
 * generator runs outside the processes it measures.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SELF = fileURLToPath(import.meta.url);

/** One load run: `connections` clients, each one request at a time, for `seconds`. */
export interface LoadSpec {
  url: string;
  /** The JSON body of every request. */
  body: string;
  /** Bearer tokens, rotated per request (one per user: no two requests share a session). */
  tokens: string[];
  /** Headers on every request besides content-type and authorization. */
  headers?: Record<string, string>;
  seconds: number;
  connections: number;
}

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

/** Whether `wrk` is on the PATH. */
export const hasWrk = (): boolean => spawnSync('wrk', ['--version']).error === undefined;

/** Runs one load with wrk when present, else the Node loop; `dir` holds its temporary files. */
export function runLoad(spec: LoadSpec, dir: string): Promise<LoadResult> {
  return hasWrk() ? runWrk(spec, dir) : runNodeLoad(spec, dir);
}

/**
 * Runs a command to completion without blocking this process (fixtures living here must keep
 * answering while the load runs).
 */
export function exec(
  cmd: string,
  args: string[],
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    proc.once('error', reject);
    proc.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** Parses wrk's `--latency` output (latencies in us/ms/s). */
function parseWrk(out: string): LoadResult {
  const ms = (v: string, unit: string): number =>
    Number(v) * (unit === 'us' ? 0.001 : unit === 's' ? 1000 : 1);
  const pct = (p: string): number => {
    const m = new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s)`).exec(out);
    return m?.[1] && m[2] ? ms(m[1], m[2]) : Number.NaN;
  };
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sockErr = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (sockErr ? sockErr.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps, p50: pct('50'), p99: pct('99'), errors };
}

async function runWrk(spec: LoadSpec, dir: string): Promise<LoadResult> {
  const script = path.join(dir, 'bench.lua');
  const extra = Object.entries(spec.headers ?? {})
    .map(([k, v]) => `[${JSON.stringify(k)}] = ${JSON.stringify(v)}, `)
    .join('');
  await writeFile(
    script,
    `local tokens = { ${spec.tokens.map((t) => JSON.stringify(t)).join(', ')} }
local body = ${JSON.stringify(spec.body)}
local i = 0
request = function()
  i = i % #tokens + 1
  return wrk.format("POST", nil, { ${extra}["content-type"] = "application/json", ["authorization"] = "Bearer " .. tokens[i] }, body)
end
`,
  );
  const r = await exec('wrk', [
    '-t2',
    `-c${spec.connections}`,
    `-d${spec.seconds}s`,
    '--latency',
    '-s',
    script,
    spec.url,
  ]);
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr}`);
  return parseWrk(r.stdout);
}

async function runNodeLoad(spec: LoadSpec, dir: string): Promise<LoadResult> {
  const file = path.join(dir, 'load.json');
  await writeFile(file, JSON.stringify(spec));
  const r = await exec(process.execPath, ['--import', 'tsx', SELF, '--load', file]);
  if (r.status !== 0) throw new Error(`load child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as LoadResult;
}

/** The Node load loop (child process): prints one JSON {@link LoadResult} line. */
async function nodeLoop(file: string): Promise<void> {
  const spec = JSON.parse(await readFile(file, 'utf8')) as LoadSpec;
  const agent = new http.Agent({ keepAlive: true, maxSockets: spec.connections });
  const target = new URL(spec.url);
  const latencies: number[] = [];
  let errors = 0;
  const until = performance.now() + spec.seconds * 1000;
  const once = (token: string): Promise<void> =>
    new Promise((resolve) => {
      const t0 = performance.now();
      const req = http.request(
        target,
        {
          method: 'POST',
          agent,
          headers: {
            ...spec.headers,
            'content-type': 'application/json',
            authorization: `Bearer ${token}`,
            'content-length': Buffer.byteLength(spec.body),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) latencies.push(performance.now() - t0);
            else errors++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(spec.body);
    });
  await Promise.all(
    Array.from({ length: spec.connections }, async (_x, c) => {
      let n = c;
      while (performance.now() < until) await once(spec.tokens[n++ % spec.tokens.length] ?? '');
    }),
  );
  latencies.sort((a, b) => a - b);
  const pick = (p: number): number =>
    latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? Number.NaN;
  process.stdout.write(
    `${JSON.stringify({ rps: latencies.length / spec.seconds, p50: pick(50), p99: pick(99), errors })}\n`,
  );
  agent.destroy();
}

if (process.argv[2] === '--load') await nodeLoop(process.argv[3] ?? '');
