/**
 * Bundles every process entry and the run command's scripts for `node dist/<name>.js`, so processes
 * start with plain `node` instead of compiling TypeScript through tsx. Each is a CommonJS bundle,
 * dist/<name>.<hash>.cjs, run by a small launcher, dist/<name>.js, through scripts/run-bundle.ts,
 * which keeps a V8 code cache beside it (Node 20 has no code cache for ES modules). Packages are
 * bundled too (resolving thousands of package files is most of a start), except those in
 * EXTERNAL_PACKAGES, which Node still loads from node_modules. Every source module but the entry gets
 * its own file's URL for `import.meta.url`, the entry the launcher's (PROJECT_ROOT, `createRequire`,
 * "am I the main module" checks all keep their meaning).
 * dist/.inputs lists what the bundles were built from; it is older than none of them while fresh.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BuildOptions, Metafile, Plugin } from 'esbuild';
import { loadConfig, PROJECT_ROOT } from '../lib/config.js';
import { INSTRUMENTED_MODULES } from '../lib/telemetry.js';
import { distOf, platformProcesses, SCRIPT_ENTRIES, SERVICE_PRELOADS } from './platform.js';

const DIST = path.join(PROJECT_ROOT, 'dist');
const STAMP = path.join(DIST, '.inputs');
/**
 * Inputs of every build besides the bundled sources: the build's own settings, and what says which
 * packages are installed (npm rewrites node_modules/.package-lock.json on every install), instead of
 * the thousands of package files bundled, which the freshness check would have to date one by one.
 */
const BUILD_INPUTS = ['scripts/build.ts', 'package.json', 'package-lock.json', 'tsconfig.json'];
const INSTALLED_PACKAGES = 'node_modules/.package-lock.json';

/**
 * Packages left to Node's resolver rather than bundled: native addons and the packages that load
 * them or files beside themselves; the modules OpenTelemetry patches by name as Node loads them
 * (lib/telemetry.ts), and OpenTelemetry itself (one API per process; the SDK loads only when tracing
 * is on); optional peers that are not installed; the build tools the orchestrator imports. Their own
 * dependencies follow them. A bundle resolves them from dist/, i.e. the top-level copies: the gateway
 * gets the top-level @opentelemetry/api, not the older one nested under @apollo/gateway.
 */
export const EXTERNAL_PACKAGES: readonly string[] = [
  '@node-rs/argon2',
  'ssh2',
  'cpu-features',
  'pg-native',
  // Starts sandboxed processors from files beside itself; msgpackr's native decoder comes with it.
  'bullmq',
  ...INSTRUMENTED_MODULES,
  '@opentelemetry/*',
  // Optional peers, not installed (ws, node-fetch): required in a try, so left to Node.
  'bufferutil',
  'utf-8-validate',
  'encoding',
  'esbuild',
  'tsx',
  'vite',
];

/**
 * What gets bundled: dist/<name>.js from <entry>, both relative to the repository root. The same
 * whatever the environment says (the process table only needs a config for its ports).
 */
export function buildEntries(): { name: string; entry: string }[] {
  const config = loadConfig({ NODE_ENV: 'development', SERVICE_TOKEN: randomBytes(32).toString('hex') });
  const processes = platformProcesses(config).filter((p) => existsSync(path.join(PROJECT_ROOT, p.entry)));
  const preloads = SERVICE_PRELOADS.map(({ name, bundleEntry }) => ({ name, entry: bundleEntry }));
  return [...processes, ...SCRIPT_ENTRIES, ...preloads].map(({ name, entry }) => ({ name, entry }));
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
 * Spelled in pieces: this file is bundled into dist/dev.js (which builds when dist/ is stale), and
 * the literal would be rewritten in it like any other module's.
 */
const META_URL = ['import', 'meta', 'url'].join('.');

/**
 * Gives each bundled module, except the entry, its own source URL for `import.meta.url`, computed
 * from the bundle's location so dist/ keeps working wherever the repository is.
 */
function sourceUrlPlugin(entryFiles: ReadonlySet<string>, outdir: string): Plugin {
  return {
    name: 'source-import-meta-url',
    setup(build) {
      build.onLoad({ filter: /\.ts$/ }, async (args) => {
        if (entryFiles.has(args.path)) return undefined;
        const text = await readFile(args.path, 'utf8');
        if (!text.includes(META_URL)) return undefined;
        const fromDist = path.relative(outdir, args.path).split(path.sep).join('/');
        const url = `new URL(${JSON.stringify(fromDist)}, ${META_URL}).href`;
        return { contents: text.replaceAll(META_URL, url), loader: 'ts' };
      });
    },
  };
}

/** The package a bare import names: `@scope/name` or `name`, without a subpath. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return (specifier.startsWith('@') ? parts.slice(0, 2) : parts.slice(0, 1)).join('/');
}

/** True when `pkg` is in EXTERNAL_PACKAGES (`@scope/*` names every package of a scope). */
export function isExternalPackage(pkg: string): boolean {
  return EXTERNAL_PACKAGES.some((e) => (e.endsWith('/*') ? pkg.startsWith(e.slice(0, -1)) : pkg === e));
}

/**
 * What @apollo/gateway's usage telemetry module requires for its anonymous metrics alone (the
 * exporter, the metrics SDK, cloud resource detectors): loaded at import although the gateway
 * switches that telemetry off (`disableApolloTelemetry`) before it constructs ApolloGateway.
 */
const APOLLO_TELEMETRY_MODULE = '/node_modules/@apollo/gateway/dist/utilities/opentelemetry.js';
const APOLLO_TELEMETRY_ONLY = new Set([
  '@opentelemetry/exporter-metrics-otlp-http',
  '@opentelemetry/resource-detector-alibaba-cloud',
  '@opentelemetry/resource-detector-aws',
  '@opentelemetry/resource-detector-azure',
  '@opentelemetry/resource-detector-gcp',
  '@opentelemetry/resources',
  '@opentelemetry/sdk-metrics',
  '@opentelemetry/semantic-conventions/incubating',
  'node-cpu-count',
]);

/** The stand-in for a module of APOLLO_TELEMETRY_ONLY: every export throws when called. */
function telemetryStub(module: string): string {
  const message = `${module} is not bundled: Apollo's usage telemetry is off (scripts/build.ts)`;
  return `const off = () => { throw new Error(${JSON.stringify(message)}); };
module.exports = new Proxy({}, {
  get: (_target, key) => (typeof key === 'symbol' || key === '__esModule' || key === 'then' ? undefined : off),
});
`;
}

/**
 * `@apollo/utils.createhash` as lib/query-hash-memo.ts: Node's crypto (bundled, the package's own
 * check, `module.require` exists, fails inside esbuild's CommonJS wrapper, and Apollo Server hashed
 * every request's query with sha.js in JavaScript, ~1.4% of the gateway's and trading's CPU in the
 * orders bench), with the hex digest of a query text remembered (BENCHMARKS.md).
 */
const APOLLO_CREATEHASH = '@apollo/utils.createhash';
const NATIVE_CREATEHASH = "module.exports = require('./lib/query-hash-memo.ts');\n";

/**
 * `negotiator` as @apollo/server imports it: lib/negotiator-memo.ts, the package with its answers
 * remembered per Accept header (Apollo Server negotiates the media type on every request, ~2% of the
 * gateway's CPU in the orders bench, BENCHMARKS.md). Other importers (Express) keep the package.
 */
const NEGOTIATOR = 'negotiator';
const APOLLO_SERVER_DIR = '/node_modules/@apollo/server/';
// Resolved from the project's root (the onLoad below), bundled like any source file; so is
// NATIVE_CREATEHASH's module.
const MEMO_NEGOTIATOR = "module.exports = require('./lib/negotiator-memo.ts').MemoNegotiator;\n";

/**
 * Bundles packages, except EXTERNAL_PACKAGES, replaces what only Apollo's usage telemetry needs with
 * a stub (in the gateway's bundle, the only one with @apollo/gateway), and gives Apollo's hashing
 * Node's crypto (see NATIVE_CREATEHASH) and its content negotiation a memory (see MEMO_NEGOTIATOR).
 */
function packagesPlugin(): Plugin {
  return {
    name: 'packages',
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith('node:')) return undefined;
        if (args.path === APOLLO_CREATEHASH) return { path: args.path, namespace: 'apollo-createhash' };
        if (args.path === NEGOTIATOR && args.importer.split(path.sep).join('/').includes(APOLLO_SERVER_DIR)) {
          return { path: args.path, namespace: 'apollo-negotiator' };
        }
        if (
          APOLLO_TELEMETRY_ONLY.has(args.path) &&
          args.importer.split(path.sep).join('/').endsWith(APOLLO_TELEMETRY_MODULE)
        ) {
          return { path: args.path, namespace: 'apollo-telemetry-off' };
        }
        return isExternalPackage(packageOf(args.path)) ? { path: args.path, external: true } : undefined;
      });
      build.onLoad({ filter: /.*/, namespace: 'apollo-telemetry-off' }, (args) => ({
        contents: telemetryStub(args.path),
        loader: 'js',
      }));
      build.onLoad({ filter: /.*/, namespace: 'apollo-createhash' }, () => ({
        contents: NATIVE_CREATEHASH,
        loader: 'js',
        resolveDir: PROJECT_ROOT,
      }));
      build.onLoad({ filter: /.*/, namespace: 'apollo-negotiator' }, () => ({
        contents: MEMO_NEGOTIATOR,
        loader: 'js',
        resolveDir: PROJECT_ROOT,
      }));
    },
  };
}

/**
 * The top of an ES module bundle (the preloads): CommonJS packages bundled into ESM call `require`
 * for Node's built-in modules and for external packages, which ESM does not define.
 */
const REQUIRE_BANNER =
  "import { createRequire as __bundleCreateRequire } from 'node:module';\n" +
  'const require = __bundleCreateRequire(import.meta.url);';

/** What `import.meta.url` becomes in a CommonJS bundle: the URL of its `__filename`, the launcher. */
const META_URL_VARIABLE = '__bundleMetaUrl';

/**
 * The CommonJS wrapper around every CommonJS bundle, the one Node's loader puts around a CommonJS
 * file: the bundle evaluates to this function, which scripts/run-bundle.ts calls. Opened on the
 * bundle's first line. Strict like the ES modules it is built from (esbuild's own "use strict"
 * comes after the banner's first statement, too late to count).
 */
const CJS_BANNER =
  '(function (exports, require, module, __filename, __dirname) {"use strict";' +
  `const ${META_URL_VARIABLE} = require('node:url').pathToFileURL(__filename).href;`;
const CJS_FOOTER = '})';

/** The module that runs CommonJS bundles with a code cache: dist/run-bundle.js. */
const RUNNER = { name: 'run-bundle', entry: 'scripts/run-bundle.ts' };

/** A CommonJS bundle's file name: `<name>.<content hash>.cjs`, so its code cache never outlives it. */
const BUNDLE_NAME = /^([\w-]+)\.[A-Z0-9]+\.cjs$/;

/**
 * The launcher, dist/<name>.js, of a CommonJS bundle: what `node dist/<name>.js` runs. A preload
 * (`--import`) waits for the promise its bundle exports as `ready` before the entry loads.
 */
function launcher(bundleName: string, preload: boolean): string {
  const run = `runBundle(import.meta.url, ${JSON.stringify(bundleName)})`;
  return (
    `import { runBundle } from './${RUNNER.name}.js';\n` + (preload ? `await (${run}).ready;\n` : `${run};\n`)
  );
}

/** Writes a file so a process starting meanwhile reads the old or the new one, never half of one. */
async function writeAtomically(file: string, contents: Uint8Array | string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, contents);
  await rename(tmp, file);
}

/** How long a file of an earlier build is kept for processes that started from that build. */
const OLD_FILE_GRACE_MS = 60_000;

/**
 * Removes what earlier builds wrote and this one did not (bundles, their maps and code caches, the
 * chunks of the former ES module layout), once old enough; `.inputs` stays.
 */
async function removeOldFiles(current: ReadonlySet<string>): Promise<void> {
  const now = Date.now();
  for (const name of await readdir(DIST)) {
    const file = path.join(DIST, name);
    const cacheOfCurrent = name.endsWith('.cache') && current.has(file.slice(0, -'.cache'.length));
    if (name === path.basename(STAMP) || current.has(file) || cacheOfCurrent) continue;
    const old = await stat(file).then(
      (s) => now - s.mtimeMs > OLD_FILE_GRACE_MS,
      () => false,
    );
    if (old) await rm(file, { force: true });
  }
}

/** What {@link bundle} produced: every file of dist/ (absolute paths) and esbuild's metafiles merged. */
export interface Bundles {
  outputFiles: { path: string; contents: Uint8Array | string }[];
  /** The launchers among outputFiles: written last, once what they run is in place. */
  launchers: ReadonlySet<string>;
  metafile: Metafile;
}

/**
 * Bundles `entries` in memory (nothing written): each process and script into a CommonJS bundle
 * and its launcher (dist/<name>.js), the runner of those, and the source maps; esbuild's metafile
 * says what went into each bundle and what it still imports.
 * @param outdir where the files are meant to go (tests bundle fixtures elsewhere) @default dist/
 */
export async function bundle(
  entries: readonly { name: string; entry: string }[],
  outdir = DIST,
): Promise<Bundles> {
  const { build: esbuild } = await import('esbuild');
  const entryFiles = new Set(entries.map((e) => path.resolve(PROJECT_ROOT, e.entry)));
  const common = {
    absWorkingDir: PROJECT_ROOT,
    outdir,
    bundle: true,
    platform: 'node',
    target: 'node20',
    sourcemap: 'linked',
    // Less to read and keep in memory at every start (the source stays in memory beside its code
    // cache); names stay, so stack traces and logs keep them. Lines are broken after 160 characters:
    // Node prints the line that threw above an uncaught exception's stack, which would otherwise be
    // a whole module.
    minifyWhitespace: true,
    minifySyntax: true,
    lineLimit: 160,
    // Stack traces point into the sources, which stay beside dist/.
    sourcesContent: false,
    metafile: true,
    write: false,
    logLevel: 'warning',
    plugins: [packagesPlugin(), sourceUrlPlugin(entryFiles, outdir)],
  } satisfies BuildOptions;
  const [cjs, esm] = await Promise.all([
    esbuild({
      ...common,
      entryPoints: Object.fromEntries(entries.map((e) => [e.name, e.entry])),
      entryNames: '[name].[hash]',
      outExtension: { '.js': '.cjs' },
      format: 'cjs',
      banner: { js: CJS_BANNER },
      footer: { js: CJS_FOOTER },
      define: { 'import.meta.url': META_URL_VARIABLE },
      // `import()` becomes `require` (an ES module package then loads through Node's require(esm),
      // 20.19+): scripts/run-bundle.ts cannot give a script compiled from a code cache an `import()`.
      supported: { 'dynamic-import': false },
    }),
    esbuild({
      ...common,
      entryPoints: { [RUNNER.name]: RUNNER.entry },
      format: 'esm',
      banner: { js: REQUIRE_BANNER },
    }),
  ]);
  const preloads = new Set(SERVICE_PRELOADS.map((p) => p.name));
  const launchers = cjs.outputFiles.flatMap((f) => {
    const name = BUNDLE_NAME.exec(path.basename(f.path))?.[1];
    if (!name) return [];
    return [
      {
        path: path.join(outdir, `${name}.js`),
        contents: launcher(path.basename(f.path), preloads.has(name)),
      },
    ];
  });
  return {
    outputFiles: [...cjs.outputFiles, ...esm.outputFiles, ...launchers],
    launchers: new Set(launchers.map((l) => l.path)),
    metafile: {
      inputs: { ...cjs.metafile.inputs, ...esm.metafile.inputs },
      outputs: { ...cjs.metafile.outputs, ...esm.metafile.outputs },
    },
  };
}

/** Bundles every entry into dist/ and records the inputs; returns how long it took in ms. */
export async function build(entries = buildEntries()): Promise<number> {
  const started = Date.now();
  const result = await bundle(entries);
  await mkdir(DIST, { recursive: true });
  // A launcher must never be in place before the bundle it names and the runner.
  const first = result.outputFiles.filter((f) => !result.launchers.has(f.path));
  await Promise.all(first.map((f) => writeAtomically(f.path, f.contents)));
  const launchers = result.outputFiles.filter((f) => result.launchers.has(f.path));
  await Promise.all(launchers.map((f) => writeAtomically(f.path, f.contents)));
  await removeOldFiles(new Set(result.outputFiles.map((f) => f.path)));
  const sources = Object.keys(result.metafile.inputs).filter(
    (f) => !f.split('/').includes('node_modules') && !f.includes(':'),
  );
  const installed = existsSync(path.join(PROJECT_ROOT, INSTALLED_PACKAGES)) ? [INSTALLED_PACKAGES] : [];
  const inputs = [...new Set([...sources, ...BUILD_INPUTS, ...installed])].sort();
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
