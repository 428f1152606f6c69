import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, PROJECT_ROOT } from '../lib/config.js';
import { SUBGRAPHS } from '../schema/subgraphs.js';
import { createLineFormatter, launchArgs, platformProcesses, SERVICE_NODE_FLAGS } from './platform.js';

const config = loadConfig({ SERVICE_TOKEN: randomBytes(32).toString('hex'), NODE_ENV: 'development' });
const read = (file: string): Promise<string> => readFile(path.join(PROJECT_ROOT, file), 'utf8');

describe('platformProcesses', () => {
  it('starts every process in dependency order, the gateway last, and every entry exists', () => {
    const all = platformProcesses(config);
    expect(all.map((p) => p.name)).toEqual([
      'sessions',
      'auth',
      'tenants',
      'tenants-worker',
      'market-data',
      'trading',
      'analytics',
      'gateway',
    ]);
    expect(all.map((p) => p.port)).toEqual([8002, 8001, 8003, 8103, 8005, 8004, 8006, 8000]);
    expect(all.filter((p) => !existsSync(path.join(PROJECT_ROOT, p.entry))).map((p) => p.entry)).toEqual([]);
  });

  it('starts a process only after processes listed before it, and bundles each to dist/<name>.js', () => {
    const all = platformProcesses(config);
    all.forEach((p, i) => {
      const before = all.slice(0, i).map((q) => q.name);
      for (const dep of p.after) expect(before, `${p.name} after ${dep}`).toContain(dep);
      expect(p.dist).toBe(`dist/${p.name}.js`);
    });
    expect(all.find((p) => p.name === 'trading')?.after).toEqual(['market-data']);
  });

  it('launches from the bundle (which maps its own stack traces), or from the source through tsx', () => {
    const gateway = platformProcesses(config).find((p) => p.name === 'gateway');
    if (!gateway) throw new Error('no gateway');
    expect(launchArgs(gateway, 'dist')).toEqual([
      ...SERVICE_NODE_FLAGS,
      '--import',
      './dist/telemetry.js',
      'dist/gateway.js',
    ]);
    expect(launchArgs(gateway, 'tsx')).toEqual([
      ...SERVICE_NODE_FLAGS,
      '--import',
      'tsx',
      '--import',
      './lib/telemetry.register.ts',
      'gateway/src/index.ts',
    ]);
  });

  it('covers every subgraph composed into the supergraph', () => {
    const names = new Set(platformProcesses(config).map((p) => p.name));
    for (const s of SUBGRAPHS) expect(names.has(s.name), s.name).toBe(true);
  });

  it('matches docker-compose.yml and the Prometheus targets', async () => {
    const compose = await read('docker-compose.yml');
    const prometheus = await read('ops/prometheus/prometheus.yml');
    for (const p of platformProcesses(config)) {
      expect(prometheus, p.name).toContain(`'${p.name}:${p.port}'`);
      expect(compose, p.name).toMatch(new RegExp(`^  ${p.name}:$`, 'm'));
      expect(compose, p.name).toContain(`'${p.dist}'`);
      expect(compose, p.name).toContain(`http://127.0.0.1:${p.port}/health`);
    }
  });
});

describe('createLineFormatter', () => {
  const format = createLineFormatter('auth', 'magenta', { colour: false, width: 8 });

  it('prettifies pino JSON lines and prefixes them with the process name', () => {
    const line = JSON.stringify({ level: 30, time: 0, service: 'auth', msg: 'auth listening', port: 8001 });
    const out = format(line);
    expect(out).toMatch(/^auth {5}│ \[.+\] INFO: auth listening \{"port":8001\}$/);
  });

  it('prefixes every line of a multi-line entry and passes plain text through', () => {
    const line = JSON.stringify({
      level: 50,
      time: 0,
      msg: 'boom',
      err: { type: 'Error', message: 'x', stack: 'Error: x\n    at f' },
    });
    const lines = format(line).split('\n');
    expect(lines.length).toBeGreaterThan(2);
    for (const l of lines) expect(l.startsWith('auth     │ ')).toBe(true);
    expect(format('not json {')).toBe('auth     │ not json {');
    expect(format('{ broken')).toBe('auth     │ { broken');
  });
});
