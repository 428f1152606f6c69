import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../lib/config.js';
import { buildEntries, bundle, EXTERNAL_PACKAGES, isExternalPackage } from './build.js';

/** `@scope/name` or `name` of a bare specifier. */
const packageName = (specifier: string): string =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');

const isBuiltin = (specifier: string): boolean =>
  specifier.startsWith('node:') || builtinModules.includes(specifier);

describe('isExternalPackage', () => {
  it('names packages and whole scopes', () => {
    expect(isExternalPackage('pg')).toBe(true);
    expect(isExternalPackage('@opentelemetry/api')).toBe(true);
    expect(isExternalPackage('@node-rs/argon2')).toBe(true);
    expect(isExternalPackage('express')).toBe(false);
    expect(isExternalPackage('@apollo/gateway')).toBe(false);
    expect(isExternalPackage('pg-boss')).toBe(false);
    expect(EXTERNAL_PACKAGES).toContain('graphql');
  });
});

describe('bundle', () => {
  it('bundles packages: every bundle imports only built-in modules and the external packages', async () => {
    const entries = buildEntries();
    const { metafile, launchers, outputFiles } = await bundle(entries);
    expect([...launchers].map((f) => path.relative(PROJECT_ROOT, f)).sort()).toEqual(
      entries.map((e) => `dist/${e.name}.js`).sort(),
    );
    // Each launcher runs a bundle of this build.
    const written = new Set(outputFiles.map((f) => path.basename(f.path)));
    for (const f of outputFiles.filter((o) => launchers.has(o.path))) {
      const named = /"([\w.-]+\.cjs)"/.exec(String(f.contents))?.[1] ?? '';
      expect(written, f.path).toContain(named);
    }
    const outputs = Object.entries(metafile.outputs).filter(([file]) => /\.c?js$/.test(file));
    for (const [file, out] of outputs) {
      const stray = out.imports
        .filter((i) => i.external && !isBuiltin(i.path) && !isExternalPackage(packageName(i.path)))
        .map((i) => i.path);
      expect(stray, file).toEqual([]);
    }
    const bundled = Object.keys(metafile.inputs);
    expect(bundled.some((f) => f.includes('node_modules/@apollo/gateway/'))).toBe(true);
    expect(bundled.some((f) => f.includes('node_modules/express/'))).toBe(true);
  }, 120_000);

  it("leaves Apollo's usage telemetry out of the gateway: stubs instead of the exporter and detectors", async () => {
    const { metafile } = await bundle([{ name: 'gateway', entry: 'gateway/src/index.ts' }]);
    const inputs = Object.keys(metafile.inputs);
    const loaded = inputs.filter((f) => !f.startsWith('apollo-telemetry-off:'));
    expect(
      loaded.filter((f) => /sdk-metrics|exporter-metrics-otlp|resource-detector|node-cpu-count/.test(f)),
    ).toEqual([]);
    expect(inputs).toContain('apollo-telemetry-off:@opentelemetry/sdk-metrics');
    const gateway = Object.values(metafile.outputs).find((o) => o.entryPoint === 'gateway/src/index.ts');
    const imports = gateway?.imports.map((i) => i.path) ?? [];
    expect(imports.filter((p) => /sdk-metrics|exporter-metrics-otlp|resource-detector/.test(p))).toEqual([]);
  }, 120_000);

  it("gives Apollo Server's query hashing Node's crypto: sha.js (its JavaScript fallback) is not bundled", async () => {
    const { metafile } = await bundle([{ name: 'trading', entry: 'subgraphs/trading/src/index.ts' }]);
    const inputs = Object.keys(metafile.inputs);
    expect(inputs).toContain('apollo-createhash:@apollo/utils.createhash');
    expect(metafile.inputs['apollo-createhash:@apollo/utils.createhash']?.imports.map((i) => i.path)).toEqual(
      ['lib/query-hash-memo.ts'],
    );
    expect(inputs.filter((f) => f.includes('node_modules/sha.js/'))).toEqual([]);
  }, 120_000);

  it("gives Apollo Server's content negotiation a memory (lib/negotiator-memo.ts); Express keeps the package", async () => {
    const { metafile } = await bundle([{ name: 'trading', entry: 'subgraphs/trading/src/index.ts' }]);
    const importers = (path: string): string[] =>
      Object.entries(metafile.inputs)
        .filter(([, input]) => input.imports.some((i) => i.path === path))
        .map(([file]) => file);
    expect(importers('apollo-negotiator:negotiator').length).toBeGreaterThan(0);
    expect(importers('apollo-negotiator:negotiator').every((f) => f.includes('@apollo/server/'))).toBe(true);
    // Apollo Server's imports, and the lean pipelines' own negotiation (lib/lean-graphql.ts).
    expect(importers('lib/negotiator-memo.ts').sort()).toEqual([
      'apollo-negotiator:negotiator',
      'lib/lean-graphql.ts',
    ]);
    const pkg =
      Object.keys(metafile.inputs).find((f) => /node_modules\/negotiator\/index\.js$/.test(f)) ?? '';
    expect(importers(pkg)).toContain('lib/negotiator-memo.ts');
    expect(importers(pkg).some((f) => f.includes('node_modules/accepts/'))).toBe(true);
  }, 120_000);
});

describe('a bundle run by its launcher (scripts/run-bundle.ts)', () => {
  let root: string;
  let dist: string;
  let cache: string;
  const run = (...args: string[]): ReturnType<typeof spawnSync> =>
    spawnSync(process.execPath, [path.join(dist, 'fixture.js'), ...args], { cwd: root, encoding: 'utf8' });

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'tradesage-bundle-'));
    dist = path.join(root, 'dist');
    await mkdir(path.join(root, 'src'));
    // External packages resolve from the bundle's folder, as they do from dist/.
    await symlink(path.join(PROJECT_ROOT, 'node_modules'), path.join(root, 'node_modules'));
    await mkdir(dist);
    // Line 5 throws; the bundle moves it (a banner, helpers), the map must bring it back.
    await writeFile(
      path.join(root, 'src', 'fixture.ts'),
      [
        "import { pathToFileURL } from 'node:url';",
        '',
        'export function fail(reason: string): never {',
        '  const message: string = `fixture failed: ${reason}`;',
        '  throw new Error(message);',
        '}',
        '',
        "if (process.argv[2] === 'throw') fail('asked to');",
        "if (process.argv[2] === 'import') void import('esbuild').then((m) => console.log(typeof m.build));",
        "console.log(import.meta.url === pathToFileURL(process.argv[1] ?? '').href ? 'main' : 'not main');",
        '',
      ].join('\n'),
    );
    const { outputFiles } = await bundle(
      [{ name: 'fixture', entry: path.join(root, 'src', 'fixture.ts') }],
      dist,
    );
    for (const f of outputFiles) await writeFile(f.path, f.contents);
    const name = (await readdir(dist)).find((f) => f.endsWith('.cjs')) ?? '';
    cache = path.join(dist, `${name}.cache`);
  }, 60_000);

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("maps the bundle's frames of a stack trace back to the TypeScript source", () => {
    const r = run('throw');
    expect(r.status).toBe(1);
    const frames = String(r.stderr)
      .split('\n')
      .filter((l) => l.startsWith('    at '));
    expect(frames[0]).toBe(`    at fail (${path.join(root, 'src', 'fixture.ts')}:5:9)`);
    expect(frames.filter((l) => /\.cjs:\d+/.test(l))).toEqual([]);
  });

  it('imports an external package with import(), from the code cache too', () => {
    // The first run may write the cache; the second starts from it.
    for (let i = 0; i < 2; i++) {
      const r = run('import');
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('main\nfunction\n');
    }
  });

  it('writes a code cache, starts from it, and ignores and rewrites one V8 refuses', async () => {
    await rm(cache, { force: true });
    // A script that ends before the cache's timer writes it at exit; the entry stays the main module.
    expect(run().stdout).toBe('main\n');
    const first = await readFile(cache);
    expect(first.length).toBeGreaterThan(0);
    // Accepted: not written again.
    const before = (await stat(cache)).mtimeMs;
    expect(run().stdout).toBe('main\n');
    expect((await stat(cache)).mtimeMs).toBe(before);
    // Refused (another Node, other flags, a damaged file): compiled from the source and rewritten.
    await writeFile(cache, 'not a code cache');
    expect(run().stdout).toBe('main\n');
    expect((await readFile(cache)).toString()).not.toBe('not a code cache');
  });
});
