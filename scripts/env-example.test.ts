import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../lib/config.js';
import { loadPlatformConfig, platformVariableNames } from './platform-config.js';
import { newServiceToken, renderEnvFile } from './env-file.js';

const read = (file: string): Promise<string> => readFile(path.join(PROJECT_ROOT, file), 'utf8');

/** Names that env.example mentions as `NAME=` (set or commented out). */
function documented(example: string): Set<string> {
  return new Set([...example.matchAll(/^#?\s?([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1] ?? ''));
}

describe('env.example', () => {
  it("documents every variable of the kernel and of each subgraph's section", async () => {
    const vars = platformVariableNames();
    expect(vars.length).toBeGreaterThan(40);
    const names = documented(await read('env.example'));
    expect(vars.filter((v) => !names.has(v))).toEqual([]);
  });

  it('names the seed MA130 variables', async () => {
    const names = documented(await read('env.example'));
    for (const v of ['MA130_HOST', 'MA130_PORT', 'MA130_USERNAME', 'MA130_KEY_PATH', 'MA130_BACKUP_PATH']) {
      expect(names.has(v), v).toBe(true);
    }
  });

  it('holds no usable secret, and setup turns it into a valid configuration', async () => {
    const example = await read('env.example');
    const parse = (text: string): Record<string, string> =>
      Object.fromEntries(
        [...text.matchAll(/^([A-Z][A-Z0-9_]*)=(.*)$/gm)].map((m) => [m[1] ?? '', m[2] ?? ''] as const),
      );
    // As shipped, the placeholder token is rejected, so a copied example cannot run with it.
    expect(() => loadPlatformConfig(parse(example))).toThrow(/SERVICE_TOKEN/);
    const token = newServiceToken();
    const rendered = renderEnvFile(example, token);
    expect(rendered.match(/^SERVICE_TOKEN=.*$/gm)).toEqual([`SERVICE_TOKEN=${token}`]);
    expect(loadPlatformConfig(parse(rendered)).SERVICE_TOKEN).toBe(token);
  });
});
