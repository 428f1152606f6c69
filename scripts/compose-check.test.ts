import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../lib/config.js';
import {
  documentedVariables,
  interpolatedVariables,
  loadCompose,
  missingPaths,
  publishedPorts,
  schemaErrors,
  unexpectedPorts,
} from './compose-check.js';

const read = (file: string): Promise<string> => readFile(path.join(PROJECT_ROOT, file), 'utf8');

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification schema, merge keys resolved', async () => {
    const doc = loadCompose(await read('docker-compose.yml'));
    // Merge keys really were resolved: the tenants service has the app's and the MA130's variables.
    const tenants = (doc['services'] as Record<string, { environment: Record<string, string> }>)['tenants'];
    expect(tenants?.environment).toMatchObject({ NODE_ENV: 'production', MA130_PORT: expect.any(String) });
    expect(schemaErrors(doc)).toEqual([]);
  });

  it('builds from folders that exist and mounts only host paths that exist', async () => {
    expect(missingPaths(loadCompose(await read('docker-compose.yml')))).toEqual([]);
  });

  it('reads only variables documented in env.example', async () => {
    const used = interpolatedVariables(await read('docker-compose.yml'));
    expect(used).toContain('SERVICE_TOKEN');
    const documented = documentedVariables(await read('env.example'));
    expect(used.filter((v) => !documented.has(v))).toEqual([]);
  });

  it('publishes only the gateway and the operator UIs', async () => {
    const doc = loadCompose(await read('docker-compose.yml'));
    expect(unexpectedPorts(doc)).toEqual([]);
    const gateway = (doc['services'] as Record<string, Record<string, unknown>>)['gateway'] ?? {};
    expect(publishedPorts(gateway).map((p) => p.port)).toEqual([8000]);
  });
});

describe('ops/compose/debug-ports.yml', () => {
  it('is a valid override that publishes on loopback only', async () => {
    const doc = loadCompose(await read('ops/compose/debug-ports.yml'));
    expect(schemaErrors(doc)).toEqual([]);
    const ports = Object.values(doc['services'] as Record<string, Record<string, unknown>>).flatMap(
      publishedPorts,
    );
    expect(ports.length).toBeGreaterThan(0);
    expect(ports.filter((p) => p.hostIp !== '127.0.0.1')).toEqual([]);
  });
});

describe('the checks find faults', () => {
  const broken = `
name: broken
x-app: &app
  image: x
  volumes: ['./no/such/file.yml:/etc/x.yml:ro', 'undeclared:/data']
services:
  auth:
    <<: *app
    ports: ['8001:8001', '127.0.0.1:9000:9000', '5432']
    environment:
      A: \${UNDOCUMENTED_VAR:-x}
      B: $$NOT_A_VARIABLE
      C: $ALSO_READ
    bogus_key: 1
  gateway:
    build: ./no-such-folder
    ports: [{ target: 8000, published: 8000 }]
`;

  it('reports schema errors', () => {
    expect(schemaErrors(loadCompose(broken)).join('\n')).toMatch(/bogus_key/);
  });

  it('reports missing mounts, build contexts and undeclared volumes (through merge keys)', () => {
    expect(missingPaths(loadCompose(broken))).toEqual([
      'auth: mounted ./no/such/file.yml does not exist',
      'auth: volume undeclared is not declared under volumes:',
      'gateway: build context ./no-such-folder is not a folder',
    ]);
  });

  it('reads ${VAR}, ${VAR:-default} and $VAR but not $$VAR', () => {
    expect(interpolatedVariables(broken)).toEqual(['ALSO_READ', 'UNDOCUMENTED_VAR']);
  });

  it('reports published ports beyond the allowed ones', () => {
    expect(unexpectedPorts(loadCompose(broken))).toEqual([
      'auth publishes 8001',
      'auth publishes 9000',
      'auth publishes a port',
    ]);
  });
});
