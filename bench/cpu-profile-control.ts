/**
 * Driving bench/cpu-profile.preload.ts from a bench: the preload built as plain JavaScript (tsx in
 * every platform process would slow their start-up), the variables that load it into the run
 * command's processes, and the start/stop phases written to its control file.
 */
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { transform } from 'esbuild';
import { PROJECT_ROOT } from '../lib/config.js';
import { eventually } from '../test/support/wait.js';

/** bench/cpu-profile.preload.ts as plain JavaScript in `dir`; returns its path. */
export async function buildPreload(dir: string): Promise<string> {
  const source = path.join(PROJECT_ROOT, 'bench/cpu-profile.preload.ts');
  const out = path.join(dir, 'cpu-profile.preload.mjs');
  const { code } = await transform(await readFile(source, 'utf8'), { loader: 'ts', format: 'esm' });
  await writeFile(out, code);
  return out;
}

/**
 * Variables for the run command that make the processes of `bundles` (dist/<bundle>.js) profilable
 * into `profileDir` (created, its control file emptied); `buildDir` holds the built preload.
 */
export async function profilingVars(
  profileDir: string,
  bundles: readonly string[],
  buildDir: string,
): Promise<Record<string, string>> {
  await mkdir(profileDir, { recursive: true });
  await writeFile(path.join(profileDir, 'control'), '');
  return {
    NODE_OPTIONS: `--import ${await buildPreload(buildDir)}`,
    BENCH_CPU_PROFILE: `${path.resolve(profileDir)}:${bundles.join(',')}`,
  };
}

/**
 * Tells the profiled processes to `start` or `stop <name>` and waits until they have: a stop writes
 * `<bundle>-<name>.cpuprofile` for each of `bundles`.
 */
export async function profilePhase(dir: string, command: string, bundles: readonly string[]): Promise<void> {
  await writeFile(path.join(dir, 'control'), command);
  const [verb, name] = command.split(' ');
  if (verb === 'stop') {
    for (const bundle of bundles) {
      const file = path.join(dir, `${bundle}-${name}.cpuprofile`);
      await eventually(
        () =>
          access(file).then(
            () => true,
            () => undefined,
          ),
        file,
        60_000,
        100,
      );
    }
  } else {
    // The processes read the control file every 100 ms.
    await new Promise((r) => setTimeout(r, 300));
  }
}
