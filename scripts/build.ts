/**
 * Bundles every process entry and the run command's scripts into dist/<name>.js (ESM, node 20,
 * source maps), so processes start with plain `node` instead of compiling TypeScript through tsx.
 * Packages stay external: native addons and packages that read files beside themselves keep working.
 * One bundle shares one `import.meta.url`, so every module but the entry gets its own source file's
 * URL back (PROJECT_ROOT, `createRequire`, "am I the main module" checks all keep their meaning).
 * dist/.inputs lists what the bundles were built from; it is older than none of them while fresh.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Plugin } from 'esbuild';
import { loadConfig, PROJECT_ROOT } from '../lib/config.js';
import { distOf, platformProcesses, SCRIPT_ENTRIES, SERVICE_PRELOADS } from './platform.js';

const DIST = path.join(PROJECT_ROOT, 'dist');
const STAMP = path.join(DIST, '.inputs');
/** Inputs of every build besides the bundled sources: the build's own settings. */
const BUILD_INPUTS = ['scripts/build.ts', 'package.json', 'tsconfig.json'];

/**
 * What gets bundled: dist/<name>.js from <entry>, both relative to the repository root. The same
 * whatever the environment says (the process table only needs a config for its ports).
 */
export function buildEntries(): { name: string; entry: string }[] {
  const config = loadConfig({ NODE_ENV: 'development', SERVICE_TOKEN: randomBytes(32).toString('hex') });
  const processes = platformProcesses(config).filter((p) => existsSync(path.join(PROJECT_ROOT, p.entry)));
  return [...processes, ...SCRIPT_ENTRIES, ...SERVICE_PRELOADS].map(({ name, entry }) => ({ name, entry }));
}

/**
 * Why dist/ must be rebuilt (a bundle missing, an input changed or gone since the last build), or
 * undefined when it is fresh. scripts/run.sh makes the same check in shell before it runs dist/.
 */
export function staleReason(entries = buildEntries()): string | undefined {
  if (!existsSync(STAMP)) return 'dist/ was never built';
  const missing = entries.find((e) => !existsSync(path.join(PROJECT_ROOT, distOf(e.name))));
  if (missing) return `${distOf(missing.name)} is missing`;
  const built = statSync(STAMP).mtimeMs;
  for (const file of readFileSync(STAMP, 'utf8').split('\n').filter(Boolean)) {
    const full = path.join(PROJECT_ROOT, file);
    if (!existsSync(full)) return `${file} is gone`;
    if (statSync(full).mtimeMs > built) return `${file} changed`;
  }
  return undefined;
}

/**
 * Gives each bundled module, except the entry, its own source URL for `import.meta.url`, computed
 * from the bundle's location so dist/ keeps working wherever the repository is.
 */
function sourceUrlPlugin(entryFiles: ReadonlySet<string>): Plugin {
  return {
    name: 'source-import-meta-url',
    setup(build) {
      build.onLoad({ filter: /\.ts$/ }, async (args) => {
        if (entryFiles.has(args.path)) return undefined;
        const text = await readFile(args.path, 'utf8');
        if (!text.includes('import.meta.url')) return undefined;
        const fromDist = path.relative(DIST, args.path).split(path.sep).join('/');
        const url = `new URL(${JSON.stringify(fromDist)}, import.meta.url).href`;
        return { contents: text.replaceAll('import.meta.url', url), loader: 'ts' };
      });
    },
  };
}

/** Writes a file so a process starting meanwhile reads the old or the new one, never half of one. */
async function writeAtomically(file: string, contents: Uint8Array | string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, contents);
  await rename(tmp, file);
}

/** Bundles every entry into dist/ and records the inputs; returns how long it took in ms. */
export async function build(entries = buildEntries()): Promise<number> {
  const started = Date.now();
  const { build: esbuild } = await import('esbuild');
  const entryFiles = new Set(entries.map((e) => path.join(PROJECT_ROOT, e.entry)));
  const result = await esbuild({
    absWorkingDir: PROJECT_ROOT,
    entryPoints: Object.fromEntries(entries.map((e) => [e.name, e.entry])),
    outdir: DIST,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: 'linked',
    // Stack traces point into the sources, which stay beside dist/.
    sourcesContent: false,
    metafile: true,
    write: false,
    logLevel: 'warning',
    plugins: [sourceUrlPlugin(entryFiles)],
  });
  await mkdir(DIST, { recursive: true });
  await Promise.all(result.outputFiles.map((f) => writeAtomically(f.path, f.contents)));
  const inputs = [...new Set([...Object.keys(result.metafile.inputs), ...BUILD_INPUTS])].sort();
  await writeAtomically(STAMP, `${inputs.join('\n')}\n`);
  // Dated when the build began: a source saved while it ran counts as newer, so the next run rebuilds.
  const begun = new Date(started);
  await utimes(STAMP, begun, begun);
  return Date.now() - started;
}

/** Builds when dist/ is stale (or always, with `force`); returns what it did, for a log line. */
export async function ensureBuilt(force = false): Promise<string> {
  const entries = buildEntries();
  const reason = force ? 'forced' : staleReason(entries);
  if (!reason) return 'dist/ is up to date';
  const ms = await build(entries);
  return `built dist/ (${entries.length} bundles, ${ms} ms; ${reason})`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  ensureBuilt(process.argv.includes('--force')).then(
    (what) => console.log(what),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
