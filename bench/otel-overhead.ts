/**
 * Tracing overhead at the gateway (issue 13: off must cost under 3 % of gateway CPU). Runs
 * bench/gateway-overhead.ts three times and compares the gateway's CPU per request through it:
 * 1. without the telemetry preload (the gateway as it was before tracing existed);
 * 2. with the preload and no endpoint: tracing off, as shipped;
 * 3. tracing on (every request sampled), exporting OTLP/protobuf to a sink here that discards it.
 * The figure that matters is 2 against 1; 3 shows what turning tracing on costs.
 *
 * Run: `npx tsx bench/otel-overhead.ts [seconds=10] [connections=50]`; `1 5` is a quick smoke run.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { processEnv } from '../lib/config.js';

const GATEWAY_BENCH = path.join(path.dirname(fileURLToPath(import.meta.url)), 'gateway-overhead.ts');

interface Mode {
  name: string;
  preload: boolean;
  env: Record<string, string>;
}

interface Measured {
  name: string;
  line: string;
  gatewayCpuUs: number;
}

/** Runs the gateway bench in one mode; the gateway's CPU per request of its "through gateway" row. */
function runMode(mode: Mode, seconds: number, connections: number): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const args = ['--import', 'tsx', GATEWAY_BENCH, String(seconds), String(connections)];
    if (mode.preload) args.push('--gateway-preload');
    const proc = spawn(process.execPath, args, {
      env: { ...processEnv(), ...mode.env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
    proc.once('error', reject);
    proc.once('close', (code) => {
      const line = out.split('\n').find((l) => /^\s+through gateway\s{2,}/.test(l));
      const cpu = /gateway (\d+(?:\.\d+)?) µs/.exec(line ?? '')?.[1];
      if (code !== 0 || !line || cpu === undefined) {
        reject(new Error(`gateway bench (${mode.name}) failed (exit ${String(code)}):\n${out}`));
        return;
      }
      resolve({ name: mode.name, line: line.trim(), gatewayCpuUs: Number(cpu) });
    });
  });
}

/** An OTLP/HTTP endpoint that accepts and discards every export (its cost is not the gateway's). */
async function startSink(): Promise<{
  endpoint: string;
  requests: () => number;
  close: () => Promise<void>;
}> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests: () => requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 10);
  const connections = Number(process.argv[3] ?? 50);
  const sink = await startSink();
  // Empty values count as unset (lib/config) and keep a `.env` endpoint out of the "off" runs.
  const off = { OTEL_EXPORTER_OTLP_ENDPOINT: '' };
  const modes: Mode[] = [
    { name: 'no telemetry preload (before)', preload: false, env: off },
    { name: 'preload, tracing off (shipped)', preload: true, env: off },
    {
      name: 'tracing on, every request sampled',
      preload: true,
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
        OTEL_TRACES_SAMPLER: 'always_on',
      },
    },
  ];
  try {
    const rows: Measured[] = [];
    // One at a time: each run has the machine (what there is of it) to itself.
    for (const mode of modes) rows.push(await runMode(mode, seconds, connections));
    const base = rows[0]?.gatewayCpuUs ?? Number.NaN;
    console.log(`tracing overhead at the gateway: ${seconds} s per run, ${connections} connections`);
    for (const r of rows) {
      const delta = (100 * (r.gatewayCpuUs - base)) / base;
      console.log(
        `  ${r.name.padEnd(36)} gateway CPU/request ${r.gatewayCpuUs.toFixed(0).padStart(5)} µs  (${delta >= 0 ? '+' : ''}${delta.toFixed(1)}% vs before)`,
      );
      console.log(`    ${r.line}`);
    }
    console.log(`  OTLP exports received by the sink: ${sink.requests()} (tracing-on run only)`);
  } finally {
    await sink.close();
  }
}

await main();
