/**
 * Runs a CommonJS bundle of dist/ (scripts/build.ts) through `vm.Script` with a V8 code cache, which
 * Node 20 offers no other way: `<bundle>.cache`, written by a process that found none (or one V8
 * refused: another Node, other V8 flags) once it has run a while, so it holds what a start compiles.
 * A bundle's name carries its content hash, so a rebuilt bundle never meets an older cache (V8 checks
 * only the length). V8 runs what a cache holds: it stays beside its bundle, as trusted as it, never in
 * a shared folder such as /tmp. Stack traces are mapped through the bundle's source map, read at the
 * first trace that passes through the bundle.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire, SourceMap, type SourceMapPayload } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

/**
 * How long after its start a process writes the code cache it did not find: long enough for a
 * service to be listening (what it compiled by then is what the next start needs), short enough that
 * V8 has not yet dropped the bytecode of start-up code run once. Scripts that end sooner write it at
 * exit; a process killed by a signal before then writes none (the next start will).
 */
export const CODE_CACHE_AFTER_MS = 5_000;

/** The CommonJS wrapper the build puts around every bundle (esbuild banner and footer). */
type BundleFunction = (
  exports: object,
  require: NodeJS.Require,
  module: { exports: object },
  filename: string,
  dirname: string,
) => void;

/**
 * Runs `bundleName` (a file beside the launcher) as the launcher's module: `__filename` and
 * `import.meta.url` in the bundle are the launcher's (`dist/<name>.js`, what `process.argv[1]`
 * names), so "am I the main module" checks keep their meaning.
 * @param launcherUrl the launcher's `import.meta.url`
 * @param bundleName e.g. `gateway.Q2ZJ4F7A.cjs`
 * @returns the bundle's exports (a preload's `ready`)
 */
export function runBundle(launcherUrl: string, bundleName: string): object {
  const launcher = fileURLToPath(launcherUrl);
  const dir = path.dirname(launcher);
  const file = path.join(dir, bundleName);
  const cacheFile = `${file}.cache`;
  const source = readFileSync(file, 'utf8');
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    // No cache yet: compiled from source, and the cache written below.
  }
  // No importModuleDynamically: a script compiled from a code cache loses it on Node 20 (its `import()`
  // then throws), so the build turns every `import()` into `require` (scripts/build.ts).
  const script = new vm.Script(source, { filename: file, ...(cachedData ? { cachedData } : {}) });
  mapStackTraces(file);
  if (!cachedData || script.cachedDataRejected === true) writeCacheLater(script, cacheFile);
  const run = script.runInThisContext() as BundleFunction;
  const module = { exports: {} };
  run(module.exports, createRequire(launcher), module, launcher, dir);
  return module.exports;
}

/** Writes the script's code cache after CODE_CACHE_AFTER_MS or at exit, whichever comes first, once. */
function writeCacheLater(script: vm.Script, cacheFile: string): void {
  let written = false;
  const write = (): void => {
    if (written) return;
    written = true;
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, script.createCachedData());
      renameSync(tmp, cacheFile);
    } catch {
      // A read-only dist/ (an image run as another user): every start compiles, as without a cache.
      rmSync(tmp, { force: true });
    }
  };
  setTimeout(write, CODE_CACHE_AFTER_MS).unref();
  process.once('exit', write);
}

/** The source map of each bundle this process runs, by file; read on the first trace through it. */
const sourceMaps = new Map<string, () => SourceMap | undefined>();

/**
 * Maps the frames of `file` in every stack trace through its source map (`<file>.map`, sources
 * relative to it), as `--enable-source-maps` does for modules Node loads itself; other frames are
 * formatted as V8 does, and a trace through no bundle is left to the previous formatter.
 */
function mapStackTraces(file: string): void {
  let map: SourceMap | null | undefined;
  sourceMaps.set(file, () => {
    if (map === undefined) {
      try {
        map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')) as SourceMapPayload);
      } catch {
        map = null;
      }
    }
    return map ?? undefined;
  });
  if (sourceMaps.size > 1) return;
  const previous = Error.prepareStackTrace?.bind(Error);
  Error.prepareStackTrace = (error: Error, trace: NodeJS.CallSite[]): unknown => {
    const mapped = trace.some((site) => sourceMaps.has(site.getFileName() ?? ''));
    if (previous && !mapped) return previous(error, trace);
    return [errorHeader(error), ...trace.map((site) => `    at ${mapFrame(site)}`)].join('\n');
  };
}

/** A call site as V8 prints it, its position in a bundle replaced by the source's. */
function mapFrame(site: NodeJS.CallSite): string {
  // V8's CallSite prints itself as the frame line does; @types/node does not declare its toString.
  // eslint-disable-next-line @typescript-eslint/no-base-to-string
  const text = site.toString();
  const file = site.getFileName() ?? '';
  const line = site.getLineNumber();
  const column = site.getColumnNumber();
  const map = sourceMaps.get(file)?.();
  if (!map || line === null || column === null) return text;
  const origin = map.findOrigin(line, column);
  if (!('fileName' in origin)) return text;
  const source = path.resolve(path.dirname(file), origin.fileName);
  return text.replace(`${file}:${line}:${column}`, `${source}:${origin.lineNumber}:${origin.columnNumber}`);
}

/** The first line of a stack trace, as V8 writes it (`Error.prototype.toString`). */
function errorHeader(error: unknown): string {
  try {
    const { name, message } = error as { name?: unknown; message?: unknown };
    const n = typeof name === 'string' ? name : 'Error';
    const m = typeof message === 'string' ? message : '';
    return n === '' ? m : m === '' ? n : `${n}: ${m}`;
  } catch {
    return '<error>';
  }
}
