/**
 * Composes every subgraph's `schema.graphql` into `schema/supergraph.graphql` with
 * @apollo/composition. A composition error fails the build. `--check` fails when the committed
 * supergraph differs from a fresh composition (CI drift check).
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';
import { PROJECT_ROOT } from '../lib/config.js';
import { SUBGRAPHS } from './subgraphs.js';

const OUTPUT = path.join(PROJECT_ROOT, 'schema', 'supergraph.graphql');

/** Composes the supergraph SDL from the subgraph schemas on disk. */
export async function composeSupergraph(): Promise<string> {
  const services = await Promise.all(
    SUBGRAPHS.map(async (s) => ({
      name: s.name,
      url: s.defaultUrl,
      typeDefs: parse(await readFile(path.join(PROJECT_ROOT, s.dir, 'schema.graphql'), 'utf8')),
    })),
  );
  const result = composeServices(services);
  if (result.errors) {
    throw new Error(`Composition failed:\n${result.errors.map((e) => `  - ${e.message}`).join('\n')}`);
  }
  return `${result.supergraphSdl.trimEnd()}\n`;
}

async function main(): Promise<void> {
  const sdl = await composeSupergraph();
  if (process.argv.includes('--check')) {
    const committed = await readFile(OUTPUT, 'utf8').catch(() => '');
    if (committed !== sdl) {
      console.error('schema/supergraph.graphql is out of date: run `make codegen` and commit the result.');
      process.exit(1);
    }
    console.log('supergraph is up to date');
    return;
  }
  await writeFile(OUTPUT, sdl);
  console.log(`wrote ${path.relative(PROJECT_ROOT, OUTPUT)}`);
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
