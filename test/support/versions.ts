/**
 * Installed versions of packages, for the tests that pin a fast path to the library versions it was
 * verified against (gateway's single-fetch path, analytics' report response).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

/** The installed version of each package named in `pinned`, keyed the same way. */
export function installedVersions<K extends string>(pinned: Readonly<Record<K, string>>): Record<K, string> {
  const out = {} as Record<K, string>;
  for (const name of Object.keys(pinned) as K[]) {
    // The package's main entry, then up to its package.json (some packages do not export it).
    let dir = path.dirname(require.resolve(name));
    while (!dir.endsWith(path.join('node_modules', name)) && dir !== path.dirname(dir))
      dir = path.dirname(dir);
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string };
    out[name] = pkg.version;
  }
  return out;
}
